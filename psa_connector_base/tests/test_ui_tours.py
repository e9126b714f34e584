"""The exception queue in a real browser: Odoo tours in headless Chromium."""

import shutil

from odoo.tests import HttpCase, new_test_user, tagged

from .common import PsaTestMixin, project_data


def assert_browser_available(case):
    # Odoo skips browser tests without Chrome; the suite wants them to fail instead.
    case.assertTrue(
        shutil.which("chromium") or shutil.which("google-chrome"),
        "Chromium is needed for the browser tours: scripts/test.sh installs it "
        "(apt-get install chromium).",
    )


@tagged("post_install", "-at_install")
class TestExceptionQueueTours(PsaTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="tour-psa")
        cls.finance = new_test_user(
            cls.env,
            "tour_finance",
            name="Fiona Finance",
            groups="psa_connector_base.group_connector_user,project.group_project_user",
        )

    def setUp(self):
        super().setUp()
        assert_browser_available(self)

    def test_finance_user_maps_a_missing_reference_and_retries(self):
        partner = self.env["res.partner"].create(
            {"name": "Nordwind Handels AG", "is_company": True}
        )
        event = self.apply("project.created", project_data(id="P-77", customer_id="C-77"))
        exception = event.exception_ids
        self.assertEqual(
            (event.state, exception.category, exception.waiting_external_id),
            ("waiting", "missing_reference", "C-77"),
        )

        self.start_tour(
            "/odoo/action-psa_connector_base.action_psa_exception",
            "psa_exception_map_reference",
            login="tour_finance",
        )

        binding = self.env["psa.binding"].search(
            [("backend_id", "=", self.backend.id), ("external_type", "=", "customer")]
        )
        self.assertEqual(
            (binding.external_id, binding.res_model, binding.res_id),
            ("C-77", "res.partner", partner.id),
        )
        self.assertEqual(exception.state, "retrying")
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(self.bound("project", "P-77").partner_id, partner)
        mapped_by = exception.message_ids.filtered(lambda m: "Mapped customer C-77" in m.body)
        self.assertEqual(mapped_by.author_id, self.finance.partner_id)

    def test_finance_user_bulk_ignores_two_exceptions_with_a_reason(self):
        Exception_ = self.env["psa.exception"]
        values = {"category": "validation", "backend_id": self.backend.id}
        first, second, kept = (
            Exception_.create({**values, "name": name})
            for name in ("Tour ignore A", "Tour ignore B", "Tour keep me")
        )

        self.start_tour(
            "/odoo/action-psa_connector_base.action_psa_exception",
            "psa_exception_bulk_ignore",
            login="tour_finance",
        )

        for exception in first | second:
            self.assertEqual(
                (exception.state, exception.ignore_reason),
                ("ignored", "Duplicates of the October test import"),
            )
            self.assertTrue(exception.resolved_date)
        self.assertEqual((kept.state, kept.ignore_reason), ("open", False))

    def test_finance_user_accepts_a_suggestion_and_retries_the_group(self):
        Partner = self.env["res.partner"]
        acme = Partner.create({"name": "ACME Limited", "is_company": True})
        Partner.create({"name": "Acne Ltd", "is_company": True})  # a near miss, not chosen
        events = [
            self.apply(
                "project.created",
                project_data(
                    id=ref, code=f"ACME-{ref}", customer_id="C-81", customer_name="Acme Ltd"
                ),
            )
            for ref in ("P-81", "P-82")
        ]
        exceptions = events[0].exception_ids | events[1].exception_ids
        self.assertEqual(len(exceptions), 2)
        self.assertEqual(set(exceptions.mapped("category")), {"missing_reference"})
        group = exceptions.group_id
        self.assertEqual(len(group), 1, "one cause, one group")
        self.assertEqual((group.exception_count, group.state), (2, "open"))

        self.start_tour(
            "/odoo/action-psa_connector_base.action_psa_exception_group",
            "psa_exception_group_suggestion_retry",
            login="tour_finance",
        )

        # The suggested candidate, not the near miss, is what the click mapped.
        binding = self.env["psa.binding"].search(
            [("backend_id", "=", self.backend.id), ("external_type", "=", "customer")]
        )
        self.assertEqual(
            (binding.external_id, binding.res_model, binding.res_id),
            ("C-81", "res.partner", acme.id),
        )
        # The group retry reached both of its exceptions, as the finance user.
        for exception in exceptions:
            retried = exception.message_ids.filtered(
                lambda m: "Retry requested." in (m.body or "")
                and m.author_id == self.finance.partner_id
            )
            self.assertEqual(len(retried), 1, exception.external_id)
        self.run_jobs(methods=("_process_job",))
        self.assertEqual([e.state for e in events], ["done", "done"])
        self.assertEqual(set(exceptions.mapped("state")), {"resolved"})
        self.assertEqual(self.bound("project", "P-81").partner_id, acme)
        self.assertEqual(self.bound("project", "P-82").partner_id, acme)
        group.invalidate_recordset()
        self.assertEqual((group.open_count, group.state), (0, "resolved"))
