import json

from odoo.tests import HttpCase, tagged
from odoo.tools.misc import file_path

from ..tools.openapi import build_openapi, dumps
from ..tools.schema import load_schema


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


@tagged("post_install", "-at_install")
class TestOpenApi(HttpCase):
    def test_committed_document_is_the_generated_one(self):
        with open(file_path("psa_connector_base/static/openapi.json")) as committed:
            self.assertEqual(
                committed.read(),
                dumps(build_openapi()),
                "static/openapi.json is stale: run python3 scripts/gen_openapi.py",
            )

    def test_route_serves_the_document(self):
        response = self.url_open("/psa/openapi.json")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("application/json"))
        with open(file_path("psa_connector_base/static/openapi.json")) as committed:
            self.assertEqual(response.json(), json.load(committed))

    def test_bodies_are_the_enforced_schemas(self):
        document = build_openapi()
        schemas = document["components"]["schemas"]
        # The envelope the controller validates, verbatim.
        self.assertEqual(schemas["event"], load_schema("event"))
        # Every object type an installed importer applies is documented, with its schema.
        object_types = {
            model._psa_object_type
            for model in self.env.registry.values()
            if getattr(model, "_psa_object_type", None)
        }
        self.assertGreaterEqual(len(object_types), 4)
        body = document["paths"]["/psa/webhook/{code}"]["post"]["requestBody"]
        documented = {
            ref.split("/")[-1] for ref in refs(body["content"]["application/json"]["schema"])
        }
        for object_type in object_types:
            self.assertIn(f"{object_type}_event", documented)
            self.assertEqual(schemas[object_type], load_schema(object_type))
        self.assertIn("/psa/webhook/{code}/{vendor}", document["paths"])
        # Every reference resolves to a component.
        for ref in set(refs(document)):
            self.assertTrue(ref.startswith("#/components/schemas/"), ref)
            self.assertIn(ref.split("/")[-1], schemas, ref)
