from datetime import date

from odoo.tests import new_test_user

from odoo.addons.psa_connector_base.tests.common import project_data
from odoo.addons.psa_connector_billing.tests.common import contract_data
from odoo.addons.psa_connector_billing.tests.test_entity_routing import uk_company
from odoo.addons.psa_connector_billing.tests.test_project_financials import (
    NOVEMBER,
    FinancialsCase,
)
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data


class TestRoleRates(FinancialsCase):
    """K-1's rate card: Consultant 150/h (default), Architect 210/h, Anna (E-1) 190/h."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order_k1 = cls.bound("contract", "K-1")
        cls.ben = cls.env["hr.employee"].create(
            {"name": "Ben Okafor", "work_email": "ben@consultancy.example"}
        )
        cls.env["psa.binding"].create(
            {
                "backend_id": cls.backend.id,
                "external_type": "employee",
                "external_id": "E-2",
                "res_model": "hr.employee",
                "res_id": cls.ben.id,
            }
        )

    def sale_line(self, key):
        return self.order_k1._psa_line(key)

    def mapping(self, employee):
        return self.project.sale_line_employee_ids.filtered(lambda m: m.employee_id == employee)

    def test_role_prices_the_time_unless_a_personal_rate_exists(self):
        architect = self.sale_line("role:Architect")
        consultant = self.sale_line("role:Consultant")
        # The HR system makes Ben and Anna architects.
        self.ben._psa_set_role("Architect")
        self.anna._psa_set_role("architect")
        self.assertEqual(self.mapping(self.ben).sale_line_id, architect)
        self.assertEqual(self.mapping(self.anna).sale_line_id, self.sale_line("employee:E-1"))

        self.apply("time_entry.created", time_entry_data())  # Anna 6.5 h
        self.apply(
            "time_entry.created",
            time_entry_data(id="TE-B1", employee_id="E-2", employee_email=None, hours=5.0),
        )
        self.assertEqual(self.line("TE-B1").so_line, architect)
        self.assertEqual(self.line("TE-1").so_line, self.sale_line("employee:E-1"))
        # WIP: Ben 5 h x 210 = 1,050; Anna 6.5 h x 190 = 1,235 (her own rate wins over
        # her role's); 2,285 in all.
        self.assertAlmostEqual(5 * 210 + 6.5 * 190, 2285.0)
        self.assertFigures({"hours": 11.5, "wip": 2285.0}, month=NOVEMBER)

        # Ben becomes a project manager, a role the rate card does not have: his time not
        # invoiced yet goes back to the contract's default line (Consultant, 150/h).
        self.ben._psa_set_role("Project Manager")
        self.assertFalse(self.mapping(self.ben))
        self.assertEqual(self.line("TE-B1").so_line, consultant)
        # WIP: 5 x 150 + 6.5 x 190 = 750 + 1,235 = 1,985.
        self.assertFigures({"wip": 1985.0}, month=NOVEMBER)

    def test_contract_import_maps_the_holders_of_its_roles(self):
        self.ben._psa_set_role("Architect")
        # Someone removed the mapping; the next contract version puts it back, at the
        # new rate of the role.
        self.mapping(self.ben).unlink()
        rate_card = [
            {"role": "Consultant", "hourly_rate": 150.0, "default": True},
            {"role": "Architect", "hourly_rate": 220.0},
            {"employee_id": "E-1", "hourly_rate": 190.0},
        ]
        event = self.apply(
            "contract.updated",
            contract_data(
                currency=self.currency.name,
                rate_card=rate_card,
                version=2,
                updated_at="2026-11-10T09:00:00Z",
            ),
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.mapping(self.ben).sale_line_id, self.sale_line("role:Architect"))
        self.apply(
            "time_entry.created",
            time_entry_data(id="TE-B1", employee_id="E-2", employee_email=None, hours=3.0),
        )
        # WIP: 3 h x 220 = 660.
        self.assertFigures({"hours": 3.0, "wip": 660.0}, month=NOVEMBER)


class TestForeignCurrencyCost(FinancialsCase):
    """Anna is costed 50 GBP/h; the project's company keeps its books in another currency."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gbp = cls.env.ref("base.GBP")
        cls.gbp.active = True
        assert cls.currency != cls.gbp
        Rate = cls.env["res.currency.rate"]
        # One company unit = 0.80 GBP from 2026-11-01, 0.625 GBP from 2026-11-20.
        for currency, day, rate in (
            (cls.currency, "2026-11-01", 1.0),
            (cls.gbp, "2026-11-01", 0.8),
            (cls.gbp, "2026-11-20", 0.625),
        ):
            Rate.create(
                {"currency_id": currency.id, "name": day, "rate": rate, "company_id": False}
            )
        cls.anna._psa_set_hourly_cost(50.0, date(2026, 10, 1), cls.gbp)

    def test_margin_converts_the_cost_at_the_work_dates_rate(self):
        self.apply("time_entry.created", time_entry_data())  # 6.5 h on 2026-11-16
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-11-20", hours=4.0))
        self.backend.action_create_draft_invoices()
        self.post(self.order("K-1").invoice_ids)
        # Revenue 10.5 h x 190 = 1,995.
        # Labour: 6.5 h x 50 GBP / 0.80 = 6.5 x 62.50 = 406.25 (2026-11-16)
        #       + 4 h x 50 GBP / 0.625 = 4 x 80.00 = 320.00 (2026-11-20) = 726.25.
        # Margin 1,995 - 726.25 = 1,268.75.
        labour = 6.5 * 50 / 0.8 + 4 * 50 / 0.625
        self.assertAlmostEqual(labour, 726.25)
        self.assertFigures(
            {
                "hours": 10.5,
                "labour_cost": 726.25,
                "cost": 726.25,
                "revenue": 1995.0,
                "margin": 1268.75,
                "margin_pct": 100.0 * 1268.75 / 1995.0,
            },
            month=NOVEMBER,
        )


class TestCostCentreOnTimesheets(FinancialsCase):
    def test_timesheet_lines_carry_the_employees_cost_centre(self):
        plan = self.env.ref("psa_connector_hr.analytic_plan_cost_centres")
        column = plan._column_name()
        self.anna._psa_set_cost_centre("CC-100", "Delivery DACH")
        centre = self.anna.psa_cost_centre_id
        self.apply("time_entry.created", time_entry_data())
        line = self.line("TE-1")
        self.assertEqual(line[column], centre)
        self.assertEqual(line.account_id, self.project.account_id, "the project stays")
        # Moved to another cost centre: new time goes there, past time stays.
        self.anna._psa_set_cost_centre("CC-200")
        self.apply("time_entry.created", time_entry_data(id="TE-2", date="2026-11-17"))
        self.assertEqual(self.line("TE-2")[column].code, "CC-200")
        self.assertEqual(line[column], centre)
        # Labour cost per cost centre: Anna's 60/h x 6.5 h on CC-100.
        groups = self.env["account.analytic.line"].read_group(
            [("project_id", "=", self.project.id)], ["amount:sum"], [column]
        )
        by_centre = {g[column][0]: g["amount"] for g in groups}
        self.assertAlmostEqual(by_centre[centre.id], -6.5 * 60.0)
        self.assertAlmostEqual(by_centre[self.line("TE-2")[column].id], -6.5 * 60.0)

    def test_time_on_another_companys_project_keeps_that_projects_column(self):
        """Anna (home company, cost centre CC-100) seconded to a UK project: her line is
        UK time, and a home-company cost centre cannot be put on a UK line."""
        plan = self.env.ref("psa_connector_hr.analytic_plan_cost_centres")
        column = plan._column_name()
        self.anna._psa_set_cost_centre("CC-100", "Delivery DACH")
        uk = uk_company(self.env)
        self.env["psa.entity.mapping"].create(
            {"backend_id": self.backend.id, "code": "UK01", "target_company_id": uk.id}
        )
        event = self.apply(
            "project.created", project_data(id="P-UK", code="TF-26", legal_entity="UK01")
        )
        self.assertEqual(event.state, "done", event.result)
        event = self.apply(
            "time_entry.created", time_entry_data(id="TE-UK", project_id="P-UK", task_id=None)
        )
        self.assertEqual(event.state, "done", event.result)
        line = self.line("TE-UK")
        self.assertEqual((line.company_id, line.employee_id), (uk, self.anna))
        self.assertNotEqual(line[column], self.anna.psa_cost_centre_id)
        self.assertEqual(line.unit_amount, 6.5)


class TestLeaverLastTime(FinancialsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hr_backend = cls._create_backend(code="hr-leavers", kind="hr", name="HR")
        cls.hr_backend.write({"psa_leaver_user_policy": "after_time", "psa_leaver_grace_days": 3})
        cls.anna_user = new_test_user(cls.env, login="anna", groups="base.group_user")
        cls.anna.user_id = cls.anna_user

    def test_user_deactivated_once_the_last_approved_entry_landed(self):
        Leaver = self.env["psa.leaver"]
        # Her last approved entry (2026-11-19, before her leaving date) is received but
        # not applied yet when the HR system reports her leaving on 2026-11-20.
        late = self.receive("time_entry.created", time_entry_data(id="TE-9", date="2026-11-19"))
        self.assertEqual(late.state, "pending")
        self.anna._psa_terminate(date(2026, 11, 20), backend=self.hr_backend)
        self.assertFalse(self.anna.active)
        # Grace over (2026-11-23), but her entry is still on its way: the user stays.
        Leaver._cron_deactivate_users(today=date(2026, 11, 30))
        self.assertTrue(self.anna_user.active)

        self.run_jobs(methods=("_process_job",))
        self.assertEqual(late.state, "done", late.result)
        self.assertEqual(self.line("TE-9").employee_id, self.anna)
        Leaver._cron_deactivate_users(today=date(2026, 11, 30))
        self.assertFalse(self.anna_user.active)
        Leaver._cron_deactivate_users(today=date(2026, 12, 1))
        audit = self.env["psa.audit.log"].search(
            [("res_model", "=", "res.users"), ("res_id", "=", self.anna_user.id)]
        )
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit.outcome, "success")

    def test_an_open_exception_about_her_time_keeps_the_user(self):
        # An entry dated before she left fails on an unknown task: an open exception.
        failed = self.apply(
            "time_entry.created", time_entry_data(id="TE-9", date="2026-11-19", task_id="T-404")
        )
        self.assertIn(failed.state, ("waiting", "failed"))
        # One dated after her leaving day does not hold anything up.
        self.anna._psa_terminate(date(2026, 11, 20), backend=self.hr_backend)
        self.env["psa.leaver"]._cron_deactivate_users(today=date(2026, 12, 31))
        self.assertTrue(self.anna_user.active)
        failed.exception_ids.action_ignore("Entered twice in the PSA; the other one landed.")
        self.env["psa.leaver"]._cron_deactivate_users(today=date(2026, 12, 31))
        self.assertFalse(self.anna_user.active)
