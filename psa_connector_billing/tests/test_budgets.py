from odoo.addons.psa_connector_base.tests.common import project_data

from .common import BillingCase


class TestBudgets(BillingCase):
    def test_budget_hours_and_amount_land_on_the_project_and_follow_updates(self):
        event = self.apply(
            "project.updated",
            project_data(version=2, budget_hours=480.0, budget_amount=72000.0),
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.project.allocated_hours, 480.0)
        self.assertEqual(self.project.psa_budget_amount, 72000.0)
        # Absent leaves them; null clears them.
        self.apply("project.updated", project_data(version=3, name="ERP rollout II"))
        self.assertEqual(
            (self.project.allocated_hours, self.project.psa_budget_amount), (480.0, 72000.0)
        )
        self.apply(
            "project.updated", project_data(version=4, budget_hours=None, budget_amount=None)
        )
        self.assertEqual((self.project.allocated_hours, self.project.psa_budget_amount), (0.0, 0.0))

    def test_a_negative_budget_is_refused_with_its_payload(self):
        event = self.apply("project.updated", project_data(version=2, budget_amount=-5.0))
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.exception_ids.category, "invalid_payload")
        self.assertEqual(self.project.psa_budget_amount, 0.0)
