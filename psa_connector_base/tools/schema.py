"""Validation against the canonical JSON Schema files in ``schemas/``.

Covers the subset of JSON Schema those files use (type, required, properties, enum,
format date/date-time, minimum, maxLength), so the published schemas are the ones
enforced, without another dependency.
"""

import functools
import json
from datetime import date
from pathlib import Path

from .versions import parse_timestamp

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


@functools.cache
def load_schema(name, directory=str(SCHEMA_DIR)):
    return json.loads((Path(directory) / f"{name}.json").read_text())


def validate(instance, schema, path="$"):
    """Return a list of human-readable problems (empty when valid)."""
    problems = []
    expected = schema.get("type")
    if expected:
        types = expected if isinstance(expected, list) else [expected]
        if not any(_TYPES[t](instance) for t in types):
            return [f"{path}: expected {' or '.join(types)}, got {type(instance).__name__}"]
    if instance is None:
        return problems
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    fmt = schema.get("format")
    if fmt == "date" and isinstance(instance, str):
        try:
            date.fromisoformat(instance)
        except ValueError:
            problems.append(f"{path}: {instance!r} is not a date (YYYY-MM-DD)")
    if fmt == "date-time" and isinstance(instance, str) and not parse_timestamp(instance):
        problems.append(f"{path}: {instance!r} is not an ISO 8601 date-time")
    if "minimum" in schema and _TYPES["number"](instance) and instance < schema["minimum"]:
        problems.append(f"{path}: {instance} is below {schema['minimum']}")
    if "maxLength" in schema and isinstance(instance, str) and len(instance) > schema["maxLength"]:
        problems.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            if key not in instance:
                problems.append(f"{path}: missing required field '{key}'")
        for key, subschema in schema.get("properties", {}).items():
            if key in instance:
                problems += validate(instance[key], subschema, f"{path}.{key}")
    return problems
