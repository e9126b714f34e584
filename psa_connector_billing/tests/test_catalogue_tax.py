from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user
from odoo.tools import mute_logger

from odoo.addons.psa_connector_base.tests.common import (
    PsaTransactionCase,
    customer_data,
    project_data,
    task_data,
)
from odoo.addons.psa_connector_timesheet.tests.common import time_entry_data

from .common import billing_event_data, contract_data, milestone_contract


def _company(env, name, currency, country):
    currency = env.ref(currency)
    currency.active = True
    company = env["res.company"].create(
        {"name": name, "currency_id": currency.id, "country_id": env.ref(country).id}
    )
    env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
    # The generic chart brings its own currency: the company keeps its own (no entries yet).
    company.currency_id = currency
    return company


class CatalogueTaxCase(PsaTransactionCase):
    """Two companies with their own currency and VAT: a German GmbH (EUR, 19 %) and a
    British Ltd (GBP, 20 %), each with its PSA backend, customer, project, task and a
    consultant costing 60 an hour. One shared service product prices consultants' time."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.de = _company(env, "Consultancy DE GmbH", "base.EUR", "base.de")
        cls.uk = _company(env, "Consultancy UK Ltd", "base.GBP", "base.uk")
        Tax = env["account.tax"]
        cls.de_vat = Tax.create(
            {"name": "DE VAT 19%", "amount": 19.0, "type_tax_use": "sale", "company_id": cls.de.id}
        )
        cls.de_zero = Tax.create(
            {"name": "DE 0% EU", "amount": 0.0, "type_tax_use": "sale", "company_id": cls.de.id}
        )
        cls.uk_vat = Tax.create(
            {"name": "UK VAT 20%", "amount": 20.0, "type_tax_use": "sale", "company_id": cls.uk.id}
        )
        cls.uk_zero = Tax.create(
            {"name": "UK zero", "amount": 0.0, "type_tax_use": "sale", "company_id": cls.uk.id}
        )
        hour = env.ref("uom.product_uom_hour")
        cls.consulting = env["product.product"].create(
            {
                "name": "Consulting",
                "default_code": "SVC-CONS",
                "type": "service",
                "service_type": "timesheet",
                "invoice_policy": "delivery",
                "uom_id": hour.id,
                "uom_po_id": hour.id,
            }
        )
        cls.workshop = env["product.product"].create(
            {
                "name": "Workshop deliverable",
                "default_code": "SVC-WS",
                "type": "service",
                "service_type": "manual",
                "invoice_policy": "delivery",
            }
        )
        cls.backend.company_id = cls.de
        cls.backend_de = cls.backend
        cls.backend_uk = cls._create_backend(code="test-psa-uk", company_id=cls.uk.id)
        Mapping = env["psa.tax.mapping"]
        for backend, company, vat, zero in (
            (cls.backend_de, cls.de, cls.de_vat, cls.de_zero),
            (cls.backend_uk, cls.uk, cls.uk_vat, cls.uk_zero),
        ):
            Mapping.create(
                {
                    "backend_id": backend.id,
                    "company_id": company.id,
                    "code": "STD",
                    "tax_ids": [Command.set(vat.ids)],
                }
            )
            Mapping.create(
                {
                    "backend_id": backend.id,
                    "company_id": company.id,
                    "code": "ZERO",
                    "tax_ids": [Command.set(zero.ids)],
                }
            )
            env["psa.service.mapping"].create(
                {
                    "backend_id": backend.id,
                    "kind": "role",
                    "code": "Consultant",
                    "product_id": cls.consulting.id,
                }
            )
        cls.employees = {}
        for backend, company, country in (
            (cls.backend_de, cls.de, "DE"),
            (cls.backend_uk, cls.uk, "GB"),
        ):
            vat = "DE811907980" if country == "DE" else None
            for event_type, data in (
                ("customer.created", customer_data(country_code=country, vat=vat)),
                ("project.created", project_data()),
                ("task.created", task_data()),
            ):
                event = cls.apply(event_type, data, backend=backend)
                assert event.state == "done", event.result
            employee = env["hr.employee"].create(
                {
                    "name": f"Anna Schmidt ({country})",
                    "work_email": f"anna.{country.lower()}@consultancy.example",
                    "company_id": company.id,
                    "hourly_cost": 60.0,
                }
            )
            env["psa.binding"].create(
                {
                    "backend_id": backend.id,
                    "external_type": "employee",
                    "external_id": "E-1",
                    "res_model": "hr.employee",
                    "res_id": employee.id,
                }
            )
            cls.employees[backend] = employee

    def tm_contract(self, backend, currency, rate, **overrides):
        values = {
            "currency": currency,
            "tax_code": "STD",
            "rate_card": [{"role": "Consultant", "hourly_rate": rate, "default": True}],
            **overrides,
        }
        event = self.apply("contract.created", contract_data(**values), backend=backend)
        self.assertEqual(event.state, "done", event.result)
        return self.bound("contract", values.get("id", "K-1"), backend=backend)

    def service_product(self, name, code, uom=None):
        uom = uom or self.env.ref("uom.product_uom_hour")
        return self.env["product.product"].create(
            {
                "name": name,
                "default_code": code,
                "type": "service",
                "service_type": "timesheet",
                "invoice_policy": "delivery",
                "uom_id": uom.id,
                "uom_po_id": uom.id,
            }
        )

    def draft_invoice(self, order):
        invoices = order._psa_create_draft_invoices()
        self.assertEqual(len(invoices), 1)
        return invoices

    def orders(self, backend):
        return self.env["sale.order"].search([("psa_backend_id", "=", backend.id)])


class TestTaxMapping(CatalogueTaxCase):
    def test_time_invoices_carry_each_companys_mapped_tax(self):
        de_order = self.tm_contract(self.backend_de, "EUR", 150.0)
        uk_order = self.tm_contract(self.backend_uk, "GBP", 120.0)
        self.assertEqual(de_order.company_id, self.de)
        self.assertEqual(uk_order.company_id, self.uk)
        self.assertEqual(de_order.order_line.product_id, self.consulting)
        self.assertEqual(de_order.order_line.tax_id, self.de_vat)
        self.assertEqual(uk_order.order_line.tax_id, self.uk_vat)
        for backend in (self.backend_de, self.backend_uk):
            event = self.apply(
                "time_entry.created",
                time_entry_data(employee_email=self.employees[backend].work_email),
                backend=backend,
            )
            self.assertEqual(event.state, "done", event.result)

        de_invoice = self.draft_invoice(de_order)
        # 6.5 h x 150.00 = 975.00; 19 % of it = 185.25; 975.00 + 185.25 = 1,160.25 EUR
        self.assertEqual(de_invoice.currency_id.name, "EUR")
        self.assertEqual(de_invoice.company_id, self.de)
        self.assertEqual(de_invoice.invoice_line_ids.tax_ids, self.de_vat)
        self.assertAlmostEqual(de_invoice.amount_untaxed, 975.00)
        self.assertAlmostEqual(de_invoice.amount_tax, 185.25)
        self.assertAlmostEqual(de_invoice.amount_total, 1160.25)

        uk_invoice = self.draft_invoice(uk_order)
        # 6.5 h x 120.00 = 780.00; 20 % of it = 156.00; 780.00 + 156.00 = 936.00 GBP
        self.assertEqual(uk_invoice.currency_id.name, "GBP")
        self.assertEqual(uk_invoice.company_id, self.uk)
        self.assertEqual(uk_invoice.invoice_line_ids.tax_ids, self.uk_vat)
        self.assertAlmostEqual(uk_invoice.amount_untaxed, 780.00)
        self.assertAlmostEqual(uk_invoice.amount_tax, 156.00)
        self.assertAlmostEqual(uk_invoice.amount_total, 936.00)

    def test_milestone_and_retainer_lines_carry_the_mapped_taxes(self):
        backend = self.backend_uk
        milestones = [
            {"id": "M-1", "name": "Discovery report", "amount": 1000.0},
            # Its own code wins over the contract's.
            {"id": "M-2", "name": "Export licence", "amount": 2000.0, "tax_code": "ZERO"},
        ]
        event = self.apply(
            "contract.created",
            milestone_contract(currency="GBP", tax_code="STD", milestones=milestones),
            backend=backend,
        )
        self.assertEqual(event.state, "done", event.result)
        order = self.bound("contract", "K-2", backend=backend)
        lines = {line.psa_line_key: line for line in order.order_line}
        self.assertEqual(lines["milestone:M-1"].tax_id, self.uk_vat)
        self.assertEqual(lines["milestone:M-2"].tax_id, self.uk_zero)
        for milestone in ("M-1", "M-2"):
            self.apply(
                "billing_event.created",
                billing_event_data(id=f"BE-{milestone}", milestone_id=milestone),
                backend=backend,
            )
        invoices = order.invoice_ids
        taxes = {
            line.sale_line_ids.psa_line_key: line.tax_ids for line in invoices.invoice_line_ids
        }
        self.assertEqual(taxes, {"milestone:M-1": self.uk_vat, "milestone:M-2": self.uk_zero})
        # 1,000.00 + 2,000.00 = 3,000.00 untaxed; tax 20 % of 1,000.00 = 200.00 only
        self.assertAlmostEqual(sum(invoices.mapped("amount_untaxed")), 3000.00)
        self.assertAlmostEqual(sum(invoices.mapped("amount_tax")), 200.00)
        self.assertAlmostEqual(sum(invoices.mapped("amount_total")), 3200.00)

        event = self.apply(
            "contract.created",
            contract_data(
                id="K-3",
                type="retainer",
                currency="GBP",
                rate_card=None,
                retainer_amount=500.0,
                retainer_period="month",
                tax_code="STD",
            ),
            backend=backend,
        )
        self.assertEqual(event.state, "done", event.result)
        retainer = self.bound("contract", "K-3", backend=backend)
        self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-R1", contract_id="K-3", kind="retainer.period", period="2026-11"
            ),
            backend=backend,
        )
        invoice = retainer.invoice_ids
        self.assertEqual(invoice.invoice_line_ids.tax_ids, self.uk_vat)
        # 500.00 + 20 % (100.00) = 600.00 GBP
        self.assertAlmostEqual(invoice.amount_untaxed, 500.00)
        self.assertAlmostEqual(invoice.amount_tax, 100.00)
        self.assertAlmostEqual(invoice.amount_total, 600.00)

    def test_a_reinvoiced_expense_gets_its_mapped_tax(self):
        backend = self.backend_de
        order = self.tm_contract(backend, "EUR", 150.0, expense_policy="cost")
        event = self.apply(
            "expense.created",
            {
                "id": "X-1",
                "project_id": "P-1",
                "employee_id": "E-1",
                "date": "2026-11-02",
                "amount": 100.0,
                "currency": "EUR",
                "description": "Train to the workshop",
                "reimbursable": True,
                "state": "approved",
                # An expense re-invoiced without VAT (e.g. a disbursement).
                "tax_code": "ZERO",
                "updated_at": "2026-11-03T09:00:00Z",
            },
            backend=backend,
        )
        self.assertEqual(event.state, "done", event.result)
        expense = self.bound("expense", "X-1", backend=backend)
        self.assertEqual(expense.psa_tax_code, "ZERO")
        expense.sheet_id.action_sheet_move_post()
        reinvoiced = order.order_line.filtered("is_expense")
        self.assertEqual(len(reinvoiced), 1)
        self.assertEqual(reinvoiced.tax_id, self.de_zero)
        invoice = self.draft_invoice(order)
        line = invoice.invoice_line_ids.filtered(lambda aml: aml.sale_line_ids == reinvoiced)
        self.assertEqual(line.tax_ids, self.de_zero)

    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_an_unknown_tax_code_is_one_exception_and_nothing_is_drafted(self):
        # Mapped in the UK company only: unknown in the German one.
        self.env["psa.tax.mapping"].create(
            {
                "backend_id": self.backend_de.id,
                "company_id": self.uk.id,
                "code": "UK-ONLY",
                "tax_ids": [Command.set(self.uk_vat.ids)],
            }
        )
        event = self.apply(
            "contract.created",
            contract_data(currency="EUR", tax_code="UK-ONLY"),
            backend=self.backend_de,
        )
        self.assertEqual(event.state, "waiting")
        exceptions = self.exceptions()
        self.assertEqual(len(exceptions), 1)
        self.assertEqual(exceptions.category, "missing_reference")
        self.assertEqual(
            (exceptions.waiting_type, exceptions.waiting_external_id), ("tax_code", "UK-ONLY")
        )
        self.assertIn("'UK-ONLY'", exceptions.name)
        self.assertIn(self.de.name, exceptions.name)
        self.assertIn('"tax_code": "UK-ONLY"', exceptions.payload)
        # The code and the company are data: every unknown code groups under one cause.
        self.assertNotIn("UK-ONLY", exceptions.reason_pattern)
        self.assertIn("Tax code <text> is not mapped", exceptions.reason_pattern)
        self.assertFalse(self.orders(self.backend_de))
        self.assertFalse(self.bound("contract", "K-1", backend=self.backend_de))
        self.assertFalse(
            self.env["account.move"].search(
                [("company_id", "=", self.de.id), ("move_type", "=", "out_invoice")]
            )
        )

        # Map and retry: the German tax is chosen, the code is mapped in its company.
        wizard = self.env["psa.exception.map.wizard"].create(
            {"exception_id": exceptions.id, "res_id": self.de_vat.id}
        )
        self.assertEqual(wizard.res_model, "account.tax")
        wizard.action_map_and_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(exceptions.state, "resolved")
        order = self.bound("contract", "K-1", backend=self.backend_de)
        self.assertEqual(order.order_line.tax_id, self.de_vat)

    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_an_unknown_tax_code_on_an_expense_creates_no_expense(self):
        self.tm_contract(self.backend_de, "EUR", 150.0, expense_policy="cost")
        event = self.apply(
            "expense.created",
            {
                "id": "X-9",
                "project_id": "P-1",
                "employee_id": "E-1",
                "date": "2026-11-02",
                "amount": 100.0,
                "reimbursable": True,
                "state": "approved",
                "tax_code": "NOPE",
            },
            backend=self.backend_de,
        )
        self.assertEqual(event.state, "waiting")
        self.assertEqual(self.exceptions().waiting_external_id, "NOPE")
        self.assertFalse(self.bound("expense", "X-9", backend=self.backend_de))

    def test_a_tax_code_changed_before_posting_follows_into_the_draft(self):
        order = self.tm_contract(self.backend_uk, "GBP", 120.0)
        self.apply(
            "time_entry.created",
            time_entry_data(employee_email=self.employees[self.backend_uk].work_email),
            backend=self.backend_uk,
        )
        invoice = self.draft_invoice(order)
        self.assertEqual(invoice.invoice_line_ids.tax_ids, self.uk_vat)
        event = self.apply(
            "contract.updated",
            contract_data(
                currency="GBP",
                tax_code="ZERO",
                rate_card=[{"role": "Consultant", "hourly_rate": 120.0, "default": True}],
                version=2,
                updated_at="2026-11-21T09:00:00Z",
            ),
            backend=self.backend_uk,
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(order.order_line.tax_id, self.uk_zero)
        self.assertEqual(invoice.invoice_line_ids.tax_ids, self.uk_zero)
        # 6.5 h x 120.00 = 780.00, now without tax
        self.assertAlmostEqual(invoice.amount_total, 780.00)

    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_an_unknown_tax_code_on_a_billing_event_adds_no_line(self):
        self.apply(
            "contract.created",
            contract_data(
                id="K-3",
                type="retainer",
                rate_card=None,
                retainer_amount=500.0,
                tax_code="STD",
            ),
            backend=self.backend_de,
        )
        order = self.bound("contract", "K-3", backend=self.backend_de)
        event = self.apply(
            "billing_event.created",
            billing_event_data(
                id="BE-R1",
                contract_id="K-3",
                kind="retainer.period",
                period="2026-11",
                tax_code="NOPE",
            ),
            backend=self.backend_de,
        )
        self.assertEqual(event.state, "waiting")
        self.assertEqual(len(self.exceptions()), 1)
        self.assertFalse(order.order_line)
        self.assertFalse(order.invoice_ids)
        self.assertFalse(order.psa_billing_event_ids)

    def test_customer_rule_sets_the_fiscal_position_that_maps_the_taxes(self):
        intra_eu = self.env["account.fiscal.position"].create(
            {
                "name": "EU B2B (reverse charge)",
                "company_id": self.de.id,
                "tax_ids": [
                    Command.create({"tax_src_id": self.de_vat.id, "tax_dest_id": self.de_zero.id})
                ],
            }
        )
        self.env["psa.tax.mapping"].create(
            {
                "backend_id": self.backend_de.id,
                "company_id": self.de.id,
                "mapping_type": "fiscal_position",
                "country_id": self.env.ref("base.fr").id,
                "vat_status": "vat",
                "fiscal_position_id": intra_eu.id,
            }
        )
        event = self.apply(
            "customer.created",
            customer_data(
                id="C-FR",
                name="Client SARL",
                ref="CL-FR",
                email="ap@client.example",
                country_code="FR",
                vat="FR23334175221",
            ),
            backend=self.backend_de,
        )
        self.assertEqual(event.state, "done", event.result)
        order = self.tm_contract(self.backend_de, "EUR", 150.0, customer_id="C-FR")
        self.assertEqual(order.fiscal_position_id, intra_eu)
        self.assertEqual(order.order_line.tax_id, self.de_zero)
        # The German customer keeps the German VAT.
        german = self.tm_contract(self.backend_de, "EUR", 150.0, id="K-DE")
        self.assertFalse(german.fiscal_position_id == intra_eu)
        self.assertEqual(german.order_line.tax_id, self.de_vat)


class TestServiceCatalogue(CatalogueTaxCase):
    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_an_unmapped_service_item_waits_then_map_and_retry_creates_the_line(self):
        backend = self.backend_de
        backend.billing_require_service_mapping = True
        rate_card = [
            {"role": "Consultant", "hourly_rate": 150.0, "default": True},
            {"role": "Architect", "service_item": "ARCH", "hourly_rate": 210.0},
        ]
        event = self.apply(
            "contract.created", contract_data(currency="EUR", rate_card=rate_card), backend=backend
        )
        self.assertEqual(event.state, "waiting")
        exception = self.exceptions()
        self.assertEqual(len(exception), 1)
        self.assertEqual(
            (exception.waiting_type, exception.waiting_external_id), ("service_item", "ARCH")
        )
        self.assertTrue(exception.can_map_reference)
        self.assertFalse(self.orders(backend))
        self.assertFalse(
            self.env["sale.order.line"].search([("order_id.psa_backend_id", "=", backend.id)])
        )

        architecture = self.service_product("Architecture", "ARCH")
        wizard = self.env["psa.exception.map.wizard"].create(
            {"exception_id": exception.id, "res_id": architecture.id}
        )
        self.assertEqual(wizard.res_model, "product.product")
        # The product whose code is the service item is the best suggestion.
        self.assertEqual(wizard.suggestion_ids[:1].res_id, architecture.id)
        wizard.action_map_and_retry()
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(exception.state, "resolved")
        mapping = self.env["psa.service.mapping"].search(
            [("backend_id", "=", backend.id), ("code", "=", "ARCH")]
        )
        self.assertEqual(mapping.product_id, architecture)
        order = self.bound("contract", "K-1", backend=backend)
        lines = {line.psa_line_key: line for line in order.order_line}
        self.assertEqual(lines["role:Architect"].product_id, architecture)
        self.assertEqual(lines["role:Architect"].price_unit, 210.0)
        self.assertEqual(lines["role:Consultant"].product_id, self.consulting)

    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_an_unmapped_role_falls_back_to_the_generic_product_only_when_allowed(self):
        rate_card = [{"role": "Intern", "hourly_rate": 40.0, "default": True}]
        self.tm_contract(self.backend_uk, "GBP", 0.0, rate_card=rate_card)
        order = self.bound("contract", "K-1", backend=self.backend_uk)
        self.assertEqual(order.order_line.product_id.default_code, "PSA-TM")

        self.backend_de.billing_require_service_mapping = True
        event = self.apply(
            "contract.created", contract_data(rate_card=rate_card), backend=self.backend_de
        )
        self.assertEqual(event.state, "waiting")
        self.assertEqual(
            (self.exceptions().waiting_type, self.exceptions().waiting_external_id),
            ("service_role", "Intern"),
        )
        self.assertFalse(self.orders(self.backend_de))

    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_a_product_that_cannot_bill_time_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "cannot price time and materials"):
            self.env["psa.service.mapping"].create(
                {
                    "backend_id": self.backend_de.id,
                    "kind": "role",
                    "code": "Architect",
                    "product_id": self.workshop.id,
                }
            )
        # A service item may be mapped to it (for milestones), but time is not priced with it.
        self.env["psa.service.mapping"].create(
            {"backend_id": self.backend_de.id, "code": "WS", "product_id": self.workshop.id}
        )
        rate_card = [{"role": "Architect", "service_item": "WS", "hourly_rate": 210.0}]
        event = self.apply(
            "contract.created", contract_data(rate_card=rate_card), backend=self.backend_de
        )
        self.assertEqual(event.state, "failed")
        self.assertIn("cannot price time and materials", self.exceptions().name)
        self.assertFalse(self.orders(self.backend_de))
        # On a milestone it is right.
        milestones = [{"id": "M-1", "name": "Workshop", "amount": 900.0, "service_item": "WS"}]
        event = self.apply(
            "contract.created",
            milestone_contract(currency="EUR", milestones=milestones),
            backend=self.backend_de,
        )
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(
            self.bound("contract", "K-2", backend=self.backend_de).order_line.product_id,
            self.workshop,
        )

    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_a_code_that_is_not_text_is_refused(self):
        rate_card = [{"role": "Consultant", "service_item": {"x": 1}, "hourly_rate": 150.0}]
        event = self.apply(
            "contract.created", contract_data(rate_card=rate_card), backend=self.backend_de
        )
        self.assertEqual(event.state, "failed")
        self.assertIn("service_item must be a code", self.exceptions().name)
        self.assertFalse(self.orders(self.backend_de))

    def test_a_product_sold_by_the_day_is_priced_per_day(self):
        day = self.env.ref("uom.product_uom_day")
        daily = self.service_product("Consulting day", "SVC-DAY", uom=day)
        self.env["psa.service.mapping"].create(
            {"backend_id": self.backend_uk.id, "code": "DAY", "product_id": daily.id}
        )
        rate_card = [
            {"role": "Consultant", "service_item": "DAY", "hourly_rate": 100.0, "default": True}
        ]
        order = self.tm_contract(self.backend_uk, "GBP", 0.0, rate_card=rate_card)
        # 100.00 an hour x 8 hours a day (Odoo's day) = 800.00 a day
        self.assertEqual(order.order_line.product_uom, day)
        self.assertAlmostEqual(order.order_line.price_unit, 800.0)

    def test_revenue_and_margin_by_service_line(self):
        de_order = self.tm_contract(self.backend_de, "EUR", 150.0)
        uk_order = self.tm_contract(self.backend_uk, "GBP", 120.0)
        for backend in (self.backend_de, self.backend_uk):
            self.apply(
                "time_entry.created",
                time_entry_data(employee_email=self.employees[backend].work_email),
                backend=backend,
            )
        timesheets = self.env["account.analytic.line"].search(
            [("so_line", "in", (de_order | uk_order).order_line.ids)]
        )
        # Odoo's timesheet cost: 6.5 h x 60.00 = 390.00 each
        self.assertEqual(sorted(timesheets.mapped("amount")), [-390.0, -390.0])
        for order in (de_order, uk_order):
            invoice = self.draft_invoice(order)
            invoice.invoice_date = "2026-11-30"
            invoice.action_post()
        Revenue = self.env["psa.service.revenue"]
        rows = Revenue.search([("order_id", "in", (de_order | uk_order).ids)], order="company_id")
        figures = {
            (row.company_id, row.product_id, str(row.date)): (
                row.currency_id.name,
                row.revenue,
                row.cost,
                row.margin,
                row.hours,
            )
            for row in rows
        }
        self.assertEqual(
            figures,
            {
                # 6.5 h x 150.00 = 975.00 revenue; cost 390.00; margin 975.00 - 390.00 = 585.00
                (self.de, self.consulting, "2026-11-01"): ("EUR", 975.0, 390.0, 585.0, 6.5),
                # 6.5 h x 120.00 = 780.00 revenue; cost 390.00; margin 780.00 - 390.00 = 390.00
                (self.uk, self.consulting, "2026-11-01"): ("GBP", 780.0, 390.0, 390.0, 6.5),
            },
        )
        # Read by service line across both companies (each in its own currency).
        grouped = Revenue.read_group(
            [("order_id", "in", (de_order | uk_order).ids), ("company_id", "=", self.de.id)],
            ["revenue:sum", "margin:sum"],
            ["product_id"],
        )
        self.assertEqual(
            [(g["product_id"][0], g["revenue"], g["margin"]) for g in grouped],
            [(self.consulting.id, 975.0, 585.0)],
        )


class TestCatalogueAccess(CatalogueTaxCase):
    def user(self, login, groups, company):
        return new_test_user(
            self.env, login, groups=groups, company_id=company.id, company_ids=[company.id]
        )

    @mute_logger("odoo.addons.psa_connector_base.models.psa_event")
    def test_only_a_connector_manager_maps_a_code_and_each_company_sees_its_own(self):
        self.backend_uk.billing_require_service_mapping = True
        rate_card = [{"role": "Architect", "hourly_rate": 210.0}]
        self.apply("contract.created", contract_data(rate_card=rate_card), backend=self.backend_uk)
        exception = self.env["psa.exception"].search([("backend_id", "=", self.backend_uk.id)])
        self.assertEqual(exception.waiting_type, "service_role")
        clerk = self.user("cat_clerk", "psa_connector_base.group_connector_user", self.uk)
        wizard = (
            self.env["psa.exception.map.wizard"]
            .with_user(clerk)
            .create({"exception_id": exception.id, "res_id": self.consulting.id})
        )
        with self.assertRaises(AccessError):
            wizard.action_map_and_retry()
        self.assertFalse(self.env["psa.service.mapping"].search([("code", "=", "Architect")]))
        manager = self.user("cat_manager", "psa_connector_base.group_connector_manager", self.uk)
        wizard.with_user(manager).action_map_and_retry()
        self.assertEqual(
            self.env["psa.service.mapping"].search([("code", "=", "Architect")]).product_id,
            self.consulting,
        )
        # Tax rules are per company: the UK manager sees none of the German ones.
        TaxMapping = self.env["psa.tax.mapping"].with_user(manager)
        self.assertEqual(TaxMapping.search([]).company_id, self.uk)
        german = self.env["psa.tax.mapping"].search([("company_id", "=", self.de.id)], limit=1)
        with self.assertRaises(AccessError):
            TaxMapping.browse(german.id).write({"code": "X"})
        # Finance reads revenue by service line, of its companies only.
        auditor = self.user("cat_auditor", "account.group_account_readonly", self.de)
        Revenue = self.env["psa.service.revenue"].with_user(auditor)
        self.assertFalse(Revenue.search([("company_id", "=", self.uk.id)]))
        Revenue.search([])
        with self.assertRaises(AccessError):
            self.env["psa.service.revenue"].with_user(clerk).search([])
