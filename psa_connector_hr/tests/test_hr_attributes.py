from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from .common import HrSyncCase, department_data, employee_data

SKILLS = [
    {"type": "Languages", "name": "German", "level": "C2", "level_progress": 100},
    {"type": "Technology", "name": "SAP S/4HANA", "level": "Expert", "level_progress": 90},
]


class HrAttributesCase(HrSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.apply("department.created", department_data())
        cls.company = cls.backend.company_id

    def employee(self, external_id="E-4001"):
        return self.bound("employee", external_id)


class TestRoleSkillsCostCentre(HrAttributesCase):
    def test_role_becomes_the_job_position_of_the_employees_company(self):
        event = self.apply(
            "employee.created", employee_data(role="Senior Consultant", job_title=None)
        )
        self.assertEqual(event.state, "done", event.result)
        anna = self.employee()
        self.assertEqual(anna.job_id.name, "Senior Consultant")
        self.assertEqual(anna.job_id.company_id, anna.company_id)
        self.assertEqual(anna.job_title, "Senior Consultant", "the title follows the role")
        # A second person with the same role shares the job position, in any spelling.
        self.apply(
            "employee.created",
            employee_data(
                id="E-4002",
                name="Ben Okafor",
                email="ben@consultancy.example",
                work_email="ben@consultancy.example",
                role="senior consultant",
                job_title="Senior Consultant (SAP)",
            ),
        )
        ben = self.employee("E-4002")
        self.assertEqual(ben.job_id, anna.job_id)
        self.assertEqual(ben.job_title, "Senior Consultant (SAP)", "a title sent wins")
        self.assertEqual(
            self.env["hr.job"].search_count(
                [("name", "=ilike", "senior consultant"), ("company_id", "=", self.company.id)]
            ),
            1,
        )
        # A promotion moves her to another (new) position.
        self.apply(
            "employee.updated",
            employee_data(role="Managing Consultant", job_title=None, version=2),
        )
        self.assertEqual(anna.job_id.name, "Managing Consultant")
        self.assertEqual(anna.job_title, "Managing Consultant")

    def test_hr_system_owns_the_skills_it_sends_and_leaves_hand_made_ones(self):
        self.apply("employee.created", employee_data(skills=SKILLS))
        anna = self.employee()
        self.assertEqual(
            sorted(
                (s.skill_type_id.name, s.skill_id.name, s.skill_level_id.name)
                for s in anna.employee_skill_ids
            ),
            [("Languages", "German", "C2"), ("Technology", "SAP S/4HANA", "Expert")],
        )
        self.assertTrue(all(anna.employee_skill_ids.mapped("psa_from_hr")))
        self.assertEqual(
            anna.employee_skill_ids.filtered(
                lambda s: s.skill_id.name == "German"
            ).skill_level_id.level_progress,
            100,
        )
        # An HR officer adds a skill by hand.
        languages = self.env["hr.skill.type"].search([("name", "=", "Languages")])
        french = self.env["hr.skill"].create({"name": "French", "skill_type_id": languages.id})
        by_hand = self.env["hr.employee.skill"].create(
            {
                "employee_id": anna.id,
                "skill_type_id": languages.id,
                "skill_id": french.id,
                "skill_level_id": languages.skill_level_ids.filtered(lambda lv: lv.name == "C2").id,
            }
        )
        # The HR system drops SAP, raises nothing else and adds a level to German.
        self.apply(
            "employee.updated",
            employee_data(
                skills=[{"type": "Languages", "name": "German", "level": "C1"}], version=2
            ),
        )
        anna.invalidate_recordset()
        self.assertEqual(
            sorted(
                (s.skill_id.name, s.skill_level_id.name, s.psa_from_hr)
                for s in anna.employee_skill_ids
            ),
            [("French", "C2", False), ("German", "C1", True)],
        )
        self.assertTrue(by_hand.exists(), "a skill added in Odoo stays")
        # No skills key: nothing changes; an empty list removes the HR system's skills.
        self.apply("employee.updated", employee_data(version=3))
        self.assertEqual(len(anna.employee_skill_ids), 2)
        self.apply("employee.updated", employee_data(skills=[], version=4))
        self.assertEqual(anna.employee_skill_ids, by_hand)

    def test_bad_skills_are_an_exception_and_write_nothing(self):
        event = self.apply("employee.created", employee_data(skills=[{"name": "German"}]))
        self.assertEqual(event.state, "failed")
        self.assertIn("skills", self.exceptions(category="invalid_payload").name)
        self.assertFalse(self.employee())

    def test_cost_centre_is_an_analytic_account_of_the_cost_centre_plan(self):
        plan = self.env.ref("psa_connector_hr.analytic_plan_cost_centres")
        self.apply(
            "employee.created",
            employee_data(cost_centre="CC-100", cost_centre_name="Delivery DACH"),
        )
        anna = self.employee()
        centre = anna.psa_cost_centre_id
        self.assertEqual((centre.code, centre.name), ("CC-100", "Delivery DACH"))
        self.assertEqual(centre.plan_id, plan)
        self.assertEqual(centre.company_id, anna.company_id)
        self.apply(
            "employee.created",
            employee_data(
                id="E-4002",
                name="Ben Okafor",
                email="ben@consultancy.example",
                work_email="ben@consultancy.example",
                cost_centre="CC-100",
            ),
        )
        self.assertEqual(self.employee("E-4002").psa_cost_centre_id, centre, "found by code")
        self.apply("employee.updated", employee_data(cost_centre=None, version=2))
        self.assertFalse(anna.psa_cost_centre_id)
        self.assertEqual(
            self.env["account.analytic.account"].search_count(
                [("plan_id", "=", plan.id), ("code", "=", "CC-100")]
            ),
            1,
        )

    def test_billable_by_default_and_as_sent(self):
        data = employee_data()
        del data["billable"]
        self.apply("employee.created", data)
        self.assertTrue(self.employee().psa_billable, "billable unless the HR system says no")
        self.apply("employee.updated", employee_data(billable=False, version=2))
        self.assertFalse(self.employee().psa_billable)


class TestForeignCost(HrAttributesCase):
    def test_cost_in_another_currency_is_kept_in_it_and_converted_at_the_date(self):
        gbp = self.env.ref("base.GBP")
        gbp.active = True
        eur = self.env.ref("base.EUR")
        self.assertEqual(self.company.currency_id, eur)
        Rate = self.env["res.currency.rate"]
        # Active but without any rate: converting would be a guess.
        Rate.search([("currency_id", "=", gbp.id)]).unlink()
        refused = self.apply(
            "employee.created",
            employee_data(hourly_cost=50.0, currency="GBP", cost_effective_date="2026-10-01"),
        )
        self.assertEqual(refused.state, "failed")
        self.assertIn("no exchange rates", self.exceptions(category="invalid_payload").name)
        # 1 EUR = 0.80 GBP from 2026-10-01, 0.625 GBP from 2026-11-20.
        for currency, day, rate in (
            (eur, "2026-10-01", 1.0),
            (gbp, "2026-10-01", 0.8),
            (gbp, "2026-11-20", 0.625),
        ):
            Rate.create(
                {"currency_id": currency.id, "name": day, "rate": rate, "company_id": False}
            )
        # Rates recorded, the exception is retried: the cost lands in GBP.
        refused.exception_ids.action_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(refused.state, "done", refused.result)
        anna = self.employee()
        self.assertEqual(anna.psa_cost_history_ids.currency_id, gbp)
        self.assertEqual(anna.psa_cost_history_ids.hourly_cost, 50.0)
        # 50 GBP / 0.80 = 62.50 EUR on 2026-11-16; 50 / 0.625 = 80.00 EUR from 2026-11-20.
        self.assertAlmostEqual(anna._psa_hourly_cost_at(date(2026, 11, 16)), 62.5)
        self.assertAlmostEqual(anna._psa_hourly_cost_at(date(2026, 11, 20)), 80.0)
        # The same amount again is no change; the same amount in EUR is one.
        self.assertFalse(anna._psa_set_hourly_cost(50.0, date(2026, 12, 1), gbp))
        self.assertTrue(anna._psa_set_hourly_cost(50.0, date(2026, 12, 1), eur))
        self.assertEqual(len(anna.psa_cost_history_ids), 2)


class TestLeaverUser(HrAttributesCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.psa_leaver_grace_days = 5
        cls.apply("employee.created", employee_data())
        cls.anna = cls.bound("employee", "E-4001")
        cls.anna_user = new_test_user(cls.env, login="anna", groups="base.group_user")
        cls.anna.user_id = cls.anna_user

    def terminate(self, external_id="E-4001", **values):
        return self.apply(
            "employee.updated",
            employee_data(
                id=external_id, status="terminated", end_date="2026-11-20", version=9, **values
            ),
        )

    def user_audit(self, user):
        return self.env["psa.audit.log"].search(
            [("res_model", "=", "res.users"), ("res_id", "=", user.id)]
        )

    def test_after_last_time_waits_for_the_grace_then_deactivates_once(self):
        self.assertEqual(self.backend.psa_leaver_user_policy, "after_time", "the default")
        self.assertEqual(self.terminate().state, "done")
        self.assertFalse(self.anna.active)
        leaver = self.env["psa.leaver"].search([("employee_id", "=", self.anna.id)])
        self.assertEqual((leaver.state, leaver.user_id), ("pending", self.anna_user))
        Leaver = self.env["psa.leaver"]
        # 2026-11-20 + 5 days of grace = 2026-11-25.
        Leaver._cron_deactivate_users(today=date(2026, 11, 24))
        self.assertTrue(self.anna_user.active, "late time may still come")
        Leaver._cron_deactivate_users(today=date(2026, 11, 25))
        self.assertFalse(self.anna_user.active)
        self.assertEqual(leaver.state, "done")
        Leaver._cron_deactivate_users(today=date(2026, 11, 30))
        audit = self.user_audit(self.anna_user)
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit.backend_id, self.backend)
        self.assertIn("deactivated", audit.message)

    def test_on_termination_and_never(self):
        self.backend.psa_leaver_user_policy = "termination"
        self.terminate()
        self.assertFalse(self.anna_user.active)
        self.assertEqual(len(self.user_audit(self.anna_user)), 1)

        self.backend.psa_leaver_user_policy = "never"
        self.apply(
            "employee.created",
            employee_data(
                id="E-4002",
                name="Ben Okafor",
                email="ben@consultancy.example",
                work_email="ben@consultancy.example",
            ),
        )
        ben = self.bound("employee", "E-4002")
        ben.user_id = new_test_user(self.env, login="ben", groups="base.group_user")
        self.terminate(
            "E-4002",
            name="Ben Okafor",
            email="ben@consultancy.example",
            work_email="ben@consultancy.example",
        )
        self.assertFalse(ben.active)
        self.env["psa.leaver"]._cron_deactivate_users(today=date(2027, 1, 1))
        self.assertTrue(ben.user_id.active)
        self.assertFalse(self.env["psa.leaver"].search([("employee_id", "=", ben.id)]))

    def test_rehired_before_the_grace_keeps_the_user(self):
        self.terminate()
        self.apply("employee.updated", employee_data(status="active", version=10))
        self.assertTrue(self.anna.active)
        self.env["psa.leaver"]._cron_deactivate_users(today=date(2027, 1, 1))
        self.assertTrue(self.anna_user.active)
        leaver = self.env["psa.leaver"].search([("employee_id", "=", self.anna.id)])
        self.assertEqual(leaver.state, "cancelled")

    def test_administrators_and_integration_users_are_never_deactivated(self):
        self.backend.psa_leaver_user_policy = "termination"
        admin = self.env.ref("base.user_admin")
        integration = self.company._psa_integration_user()
        # Anna's employee record linked to the administrator (who has one of their own).
        self.env["hr.employee"].with_context(active_test=False).search(
            [("user_id", "=", admin.id)]
        ).user_id = False
        self.env.flush_all()
        self.anna.user_id = admin
        self.terminate()
        self.assertTrue(admin.active)
        leaver = self.env["psa.leaver"].search([("employee_id", "=", self.anna.id)])
        self.assertEqual(leaver.state, "kept")
        self.assertEqual(self.user_audit(admin).outcome, "skipped")

        # The integration user linked to an employee (by mistake or on purpose).
        self.apply(
            "employee.created",
            employee_data(
                id="E-4002",
                name="Ben Okafor",
                email="ben@consultancy.example",
                work_email="ben@consultancy.example",
            ),
        )
        ben = self.bound("employee", "E-4002")
        ben.sudo().user_id = integration
        self.terminate(
            "E-4002",
            name="Ben Okafor",
            email="ben@consultancy.example",
            work_email="ben@consultancy.example",
        )
        self.assertEqual(
            self.env["psa.leaver"].search([("employee_id", "=", ben.id)]).state, "kept"
        )
        self.assertEqual(self.user_audit(integration).outcome, "skipped")
        # Still the company's integration user, with its group.
        self.assertEqual(self.company.psa_integration_user_id, integration)
        self.assertTrue(integration.has_group("psa_connector_base.group_connector_integration"))

    def test_nobody_sets_the_user_to_deactivate_by_hand(self):
        self.terminate()
        leaver = self.env["psa.leaver"].search([("employee_id", "=", self.anna.id)])
        officer = new_test_user(
            self.env, login="hr-officer", groups="base.group_user,hr.group_hr_user"
        )
        other = new_test_user(self.env, login="someone", groups="base.group_user")
        with self.assertRaises(AccessError):
            leaver.with_user(officer).write({"user_id": other.id})
        # The integration user may write leavers only through the connector's own code,
        # and may not write users at all.
        integration = self.company._psa_integration_user()
        with self.assertRaises(AccessError):
            leaver.with_user(integration).write({"user_id": other.id})
        with self.assertRaises(AccessError):
            other.with_user(integration).write({"active": False})
        self.assertTrue(other.active)
