"""Write psa_connector_base/static/openapi.json from the JSON Schemas (see tools/openapi.py).

Usage: python3 scripts/gen_openapi.py [--check] [--validate]
--check     exit 1 when the committed file differs from the generated one, write nothing
--validate  also validate the document with openapi-spec-validator (the pre-commit hook
            installs it)
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "psa_connector_base" / "static" / "openapi.json"


def load_generator():
    path = ROOT / "psa_connector_base" / "tools" / "openapi.py"
    spec = importlib.util.spec_from_file_location("psa_openapi", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv):
    generator = load_generator()
    text = generator.dumps(generator.build_openapi())
    if "--validate" in argv:
        from openapi_spec_validator import validate

        document = json.loads(text)
        validate(document)
        # The validator does not follow local references: every one must name a component.
        components = document["components"]["schemas"]
        dangling = sorted(
            {ref for ref in re.findall(r'"\$ref": "([^"]+)"', text)}
            - {f"#/components/schemas/{name}" for name in components}
        )
        if dangling:
            print("openapi.json: unresolved references:", *dangling)
            return 1
        print("openapi.json: valid OpenAPI", json.loads(text)["openapi"])
    current = TARGET.read_text() if TARGET.exists() else None
    if current == text:
        return 0
    if "--check" in argv:
        print(f"{TARGET.relative_to(ROOT)} is out of date: run python3 scripts/gen_openapi.py")
        return 1
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
