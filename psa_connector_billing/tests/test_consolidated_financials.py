"""Consolidated financials: two companies (EUR and GBP), one reporting currency.

Rates are set here, per reporting company (Odoo keeps rates per company): the rows of a
month are converted at the rates in force on its last day.
"""

from odoo import Command
from odoo.tests import new_test_user, tagged
from odoo.tests.common import TransactionCase


@tagged("post_install", "-at_install")
class TestConsolidatedFinancials(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        eur, gbp = cls.env.ref("base.EUR"), cls.env.ref("base.GBP")
        (eur | gbp).active = True
        cls.de = cls.env["res.company"].create({"name": "Consultancy GmbH", "currency_id": eur.id})
        cls.uk = cls.env["res.company"].create({"name": "Consultancy Ltd", "currency_id": gbp.id})
        Rate = cls.env["res.currency.rate"]
        for company, currency, day, rate in (
            # The DE company's rates (per EUR): October ends at 0.85 GBP; November's
            # rate must not reach October's rows.
            (cls.de, gbp, "2026-10-01", 0.90),
            (cls.de, gbp, "2026-10-20", 0.85),
            (cls.de, gbp, "2026-11-15", 0.80),
            # The UK company's own rates (per GBP), deliberately not the inverse.
            (cls.uk, eur, "2026-10-20", 1.20),
        ):
            Rate.create(
                {"name": day, "currency_id": currency.id, "rate": rate, "company_id": company.id}
            )
        vendor = cls.env["res.partner"].create({"name": "Freelance Pool"})
        product = cls.env["product.product"].create(
            {"name": "Subcontracting", "type": "service", "purchase_ok": True}
        )
        cls.projects = {}
        for company, name, amount in ((cls.de, "Werk", 1000.0), (cls.uk, "Wharf", 850.0)):
            env = cls.env(context=dict(cls.env.context, allowed_company_ids=company.ids))
            project = env["project.project"].create({"name": name, "company_id": company.id})
            if not project.account_id:
                project._create_analytic_account()
            order = env["purchase.order"].create(
                {
                    "partner_id": vendor.id,
                    "company_id": company.id,
                    "currency_id": company.currency_id.id,
                    "date_order": "2026-10-15 10:00:00",
                    "order_line": [
                        Command.create(
                            {
                                "product_id": product.id,
                                "product_qty": 1,
                                "price_unit": amount,
                                "taxes_id": [Command.clear()],
                                "analytic_distribution": {str(project.account_id.id): 100},
                            }
                        )
                    ],
                }
            )
            order.button_confirm()
            order.date_order = "2026-10-15 10:00:00"
            cls.projects[company] = project
        cls.reader = new_test_user(
            cls.env,
            "consolidated_reader",
            groups="base.group_user,psa_connector_base.group_cost_reader",
            company_id=cls.de.id,
            company_ids=[Command.set((cls.de | cls.uk).ids)],
        )

    def consolidated(self, companies, user=None):
        Model = self.env["psa.project.financial.consolidated"].with_user(user or self.reader)
        return Model.with_context(allowed_company_ids=companies.ids)

    def test_both_companies_in_the_current_company_currency(self):
        view = self.consolidated(self.de | self.uk)
        rows = view.search([])
        self.assertEqual(rows.mapped("company_id"), self.de | self.uk)
        self.assertEqual(rows.mapped("currency_id").name, "EUR")
        uk_row = rows.filtered(lambda r: r.company_id == self.uk)
        self.assertEqual(str(uk_row.rate_date), "2026-10-31")
        # 1 GBP = 1 / 0.85 EUR at 31 October (the 20 October rate; not November's 0.80).
        self.assertAlmostEqual(uk_row.rate, 1 / 0.85, places=6)
        # 1,000.00 EUR + 850.00 GBP / 0.85 = 1,000.00 + 1,000.00 = 2,000.00 EUR
        self.assertAlmostEqual(view._totals()["committed_cost"], 2000.0, places=2)

    def test_reporting_from_the_uk_company_uses_its_currency_and_rates(self):
        view = self.consolidated(self.uk | self.de)
        self.assertEqual(view.search([]).mapped("currency_id").name, "GBP")
        # 850.00 GBP + 1,000.00 EUR / 1.20 = 850.00 + 833.33 = 1,683.33 GBP
        self.assertAlmostEqual(view._totals()["committed_cost"], 850.0 + 1000.0 / 1.20, places=2)
        groups = view.read_group([], ["committed_cost:sum"], ["company_id"])
        by_company = {g["company_id"][0]: g["committed_cost"] for g in groups}
        self.assertAlmostEqual(by_company[self.uk.id], 850.0, places=2)
        self.assertAlmostEqual(by_company[self.de.id], 833.33, places=2)

    def test_only_the_companies_a_user_may_see(self):
        uk_only = new_test_user(
            self.env,
            "consolidated_uk",
            groups="base.group_user,psa_connector_base.group_cost_reader",
            company_id=self.uk.id,
            company_ids=[Command.set(self.uk.ids)],
        )
        view = self.consolidated(self.uk, user=uk_only)
        self.assertEqual(view.search([]).mapped("company_id"), self.uk)
        self.assertAlmostEqual(view._totals()["committed_cost"], 850.0, places=2)
        # The reader with only DE selected in the switcher sees DE's figures only.
        self.assertAlmostEqual(
            self.consolidated(self.de)._totals()["committed_cost"], 1000.0, places=2
        )
