from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import PsaTransactionCase, customer_data

MANAGER = "psa_connector_base.group_connector_manager"


@tagged("post_install", "-at_install")
class TestEntityMapping(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.home = cls.backend.company_id
        cls.other = cls.env["res.company"].create({"name": "Consultancy UK Ltd"})
        cls.Mapping = cls.env["psa.entity.mapping"]

    def test_only_a_user_of_both_companies_may_map(self):
        home_manager = new_test_user(
            self.env,
            "map_home",
            groups=MANAGER,
            company_id=self.home.id,
            company_ids=[(6, 0, self.home.ids)],
        )
        with self.assertRaises(AccessError):
            self.Mapping.with_user(home_manager).create(
                {"backend_id": self.backend.id, "code": "UK01", "target_company_id": self.other.id}
            )
        self.assertFalse(self.Mapping.search([("backend_id", "=", self.backend.id)]))
        both = new_test_user(
            self.env,
            "map_both",
            groups=MANAGER,
            company_id=self.home.id,
            company_ids=[(6, 0, (self.home | self.other).ids)],
        )
        mapping = self.Mapping.with_user(both).create(
            {"backend_id": self.backend.id, "code": " UK01 ", "target_company_id": self.other.id}
        )
        self.assertEqual(mapping.code, "UK01")
        self.assertIn(self.other, self.home._psa_integration_user().company_ids)
        # Re-pointing it needs access to the new target too.
        third = self.env["res.company"].create({"name": "Consultancy FR SAS"})
        with self.assertRaises(AccessError):
            mapping.with_user(both).write({"target_company_id": third.id})
        # A manager of the backend's company only may neither re-code nor remove it:
        # either would send records into a company they cannot enter.
        with self.assertRaises(AccessError):
            mapping.with_user(home_manager).write({"code": "DE-SALES"})
        with self.assertRaises(AccessError):
            mapping.with_user(home_manager).unlink()
        self.assertEqual(mapping.code, "UK01")
        # A Connector User reads, never writes.
        reader = new_test_user(
            self.env,
            "map_reader",
            groups="psa_connector_base.group_connector_user",
            company_id=self.home.id,
            company_ids=[(6, 0, (self.home | self.other).ids)],
        )
        self.assertEqual(self.Mapping.with_user(reader).search([]), mapping)
        with self.assertRaises(AccessError):
            mapping.with_user(reader).write({"name": "x"})

    def test_a_mapping_is_seen_in_the_backend_company_only(self):
        self.Mapping.create(
            {"backend_id": self.backend.id, "code": "UK01", "target_company_id": self.other.id}
        )
        stranger = new_test_user(
            self.env,
            "map_stranger",
            groups=MANAGER,
            company_id=self.other.id,
            company_ids=[(6, 0, self.other.ids)],
        )
        self.assertFalse(self.Mapping.with_user(stranger).search([]))

    def test_routing_by_legal_entity(self):
        self.Mapping.create(
            {"backend_id": self.backend.id, "code": "UK01", "target_company_id": self.other.id}
        )
        event = self.apply("customer.created", customer_data(legal_entity="UK01"))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.bound("customer", "C-1").company_id, self.other)
        event = self.apply(
            "customer.created",
            customer_data(id="C-2", vat=None, ref="R-2", email=None, legal_entity=None),
        )
        self.assertEqual(self.bound("customer", "C-2").company_id, self.home)
        event = self.apply(
            "customer.created",
            customer_data(id="C-3", vat=None, ref="R-3", email=None, legal_entity="XX"),
        )
        self.assertEqual(event.state, "failed")
        self.assertEqual(len(event.exception_ids), 1)
        self.assertIn("'XX' is not mapped", event.exception_ids.name)
        self.assertFalse(self.bound("customer", "C-3"))
