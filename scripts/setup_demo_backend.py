# Run by scripts/run.sh through `odoo-bin shell`: points the demo backends at the demo
# PSA (which also plays the HR system) and queues a first pull of each, which the job
# runner executes as soon as Odoo starts.
import os
from datetime import date, timedelta

from odoo import Command, fields

# The demo firm is German: its HR system keeps costs in EUR, and the connector refuses
# to guess exchange rates. A fresh demo database has no journal entries yet, so the
# company's currency may still change.
company = env.company
if company.currency_id.name != "EUR" and not env["account.move.line"].search_count(
    [("company_id", "=", company.id)], limit=1
):
    euro = env.ref("base.EUR")
    euro.active = True
    company.write({"name": "Demo Consultancy GmbH", "currency_id": euro.id})

# The simulator listens on http://127.0.0.1: outbound calls may reach it (the connector
# refuses private addresses and http:// unless an administrator allows them).
for _param in (
    "psa_connector_base.allow_private_targets",
    "psa_connector_base.allow_insecure_http",
):
    env["ir.config_parameter"].set_param(_param, "True")
Backend = env["psa.backend"].with_context(active_test=False)
connection = {
    "base_url": os.environ["PSA_DEMO_URL"],
    "api_token": os.environ["PSA_DEMO_TOKEN"],
    "adapter": "canonical_v1",
    "active": True,
}
demo_backends = {
    "demo": {"name": "Demo PSA", "kind": "psa", "webhook_secret": os.environ["PSA_DEMO_SECRET"]},
    "demo-hr": {"name": "Demo HR", "kind": "hr"},
    "demo-forecast": {"name": "Demo Forecast", "kind": "forecast"},
}
for code, values in demo_backends.items():
    backend = Backend.search([("code", "=", code)])
    if backend:
        backend.write({**connection, **values})
    else:
        backend = Backend.create({**connection, **values, "code": code})
    backend.action_pull_now()
    print(f"backend '{code}' ({values['kind']}) -> {backend.base_url}; first pull queued")
# The firm's second legal entity: a UK company (GBP, its own chart of accounts, journals
# and sequences). The demo PSA sends legal_entity "UK" on its records (serve
# --legal-entities); the mapping routes them there, and gives the PSA backend's
# integration user access to it.
Company = env["res.company"]
uk = Company.search([("name", "=", "Demo Consultancy UK Ltd")], limit=1)
if not uk:
    pound = env.ref("base.GBP")
    pound.active = True
    # chart_template_load: Odoo would otherwise install the UK localisation for a GB
    # company and load its chart when this script commits, replacing the generic chart
    # (and the taxes the tax mapping below points to) after the fact. The demo keeps the
    # generic chart, in pounds.
    uk = Company.with_context(chart_template_load=True).create(
        {
            "name": "Demo Consultancy UK Ltd",
            "currency_id": pound.id,
            "country_id": env.ref("base.uk").id,
        }
    )
    env["account.chart.template"].try_loading("generic_coa", uk, install_demo=False)
    # The generic chart brings US dollars: the company keeps its pounds (no entries yet).
    # Its fiscal country stays the generic chart's, which its taxes belong to.
    uk.currency_id = pound
    # Rates for the consolidated financials, as each company keeps them (per unit of
    # its own currency): EUR 1 = GBP 0.86 for the German company, GBP 1 = EUR 1.16 for
    # the UK one.
    for rate_company, currency, rate in ((company, pound, 0.86), (uk, env.ref("base.EUR"), 1.16)):
        env["res.currency.rate"].create(
            {
                "name": "2026-10-01",
                "currency_id": currency.id,
                "rate": rate,
                "company_id": rate_company.id,
            }
        )
env.ref("base.user_admin").write({"company_ids": [(4, uk.id)]})
demo = Backend.search([("code", "=", "demo")])
Mapping = env["psa.entity.mapping"].with_context(active_test=False)
if not Mapping.search([("backend_id", "=", demo.id), ("code", "=", "UK")]):
    Mapping.create(
        {
            "backend_id": demo.id,
            "code": "UK",
            "name": "Consultancy UK",
            "target_company_id": uk.id,
        }
    )
print(f"legal entity 'UK' of '{demo.code}' -> {uk.name} ({uk.currency_id.name})")
# The demo PSA's service items (psa_simulator/seed.py) map to products shared by the
# companies the backend serves; the backend requires a mapping, so a new service item
# stops at the exception queue (Map and retry) instead of landing on a generic product.
demo_psa = Backend.search([("code", "=", "demo")])
hour = env.ref("uom.product_uom_hour")
demo_services = {
    "CONSULTING": ("Consulting (hour)", "timesheet", hour),
    "SENIOR-CONSULTING": ("Senior consulting (hour)", "timesheet", hour),
    "DELIVERABLE": ("Project deliverable", "manual", None),
}
for service_code, (product_name, service_type, uom) in demo_services.items():
    Product = env["product.product"].with_context(active_test=False)
    product = Product.search([("default_code", "=", service_code)], limit=1)
    if not product:
        product = Product.create(
            {
                "name": product_name,
                "default_code": service_code,
                "type": "service",
                "service_type": service_type,
                "invoice_policy": "delivery",
                "sale_ok": True,
                "purchase_ok": False,
                **({"uom_id": uom.id, "uom_po_id": uom.id} if uom else {}),
            }
        )
    mapping = env["psa.service.mapping"].search(
        [("backend_id", "=", demo_psa.id), ("code", "=", service_code)], limit=1
    )
    if not mapping:
        env["psa.service.mapping"].create(
            {"backend_id": demo_psa.id, "code": service_code, "product_id": product.id}
        )
demo_psa.billing_require_service_mapping = True
print(f"backend 'demo': service catalogue {', '.join(demo_services)} (mapping required)")
# PSA tax codes -> each company's sale taxes: standard VAT (19 % in Germany, 20 % in the
# UK) and export of services (0 %). Mapped for every company of the demo with a chart of
# accounts in one of those countries; a contract naming a code its company lacks stops
# at the exception queue.
demo_tax_codes = {"VAT-STD": {"DE": 19.0, "GB": 20.0}, "VAT-EXPORT": {"DE": 0.0, "GB": 0.0}}
for tax_company in env["res.company"].search([]):
    country = "DE" if tax_company == company else tax_company.country_id.code
    template_tax = env["account.tax"].search(
        [("company_id", "=", tax_company.id), ("type_tax_use", "=", "sale")], limit=1
    )
    if country not in ("DE", "GB") or not template_tax:
        continue
    for tax_code, rates in demo_tax_codes.items():
        rate = rates[country]
        tax = env["account.tax"].search(
            [
                ("company_id", "=", tax_company.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "=", rate),
            ],
            limit=1,
        ) or env["account.tax"].create(
            {
                "name": f"{rate:g}% {'USt' if country == 'DE' else 'VAT'} ({tax_code})",
                "amount": rate,
                "type_tax_use": "sale",
                "company_id": tax_company.id,
                "tax_group_id": template_tax.tax_group_id.id,
            }
        )
        TaxMapping = env["psa.tax.mapping"]
        if not TaxMapping.search(
            [
                ("backend_id", "=", demo_psa.id),
                ("company_id", "=", tax_company.id),
                ("code", "=", tax_code),
            ]
        ):
            TaxMapping.create(
                {
                    "backend_id": demo_psa.id,
                    "company_id": tax_company.id,
                    "code": tax_code,
                    "tax_ids": [(6, 0, tax.ids)],
                }
            )
    print(f"backend 'demo': tax codes {', '.join(demo_tax_codes)} mapped in {tax_company.name}")
# Capacity for the seeded weeks (late October to December 2026), once the HR pull has
# brought the employees: the utilisation report then has capacity, forecast and actuals.
env["psa.capacity.day"].with_delay(
    eta=45, description="Demo: capacity of the seeded weeks"
)._compute_period(date(2026, 10, 26), date(2026, 12, 27))
env.ref("psa_connector_base.ir_cron_psa_pull").write(
    {"interval_number": 1, "interval_type": "minutes"}
)
# Close November once the seed has landed (issue 24): the accrued (unbilled time) and
# deferred revenue entries of each company, posted, under Accounting > PSA > Close the month.
_admin = env.ref("base.user_admin")
_jobs = env["queue.job"].search([("method_name", "=", "_psa_job_close_month")])
if not _jobs.filtered(lambda j: j.state not in ("failed", "cancelled")) and not env[
    "psa.month.close"
].search_count([("month", "=", "2026-11-01"), ("state", "=", "posted")]):
    env["psa.month.close"].with_user(_admin).with_context(
        allowed_company_ids=(company | uk).ids
    ).with_delay(
        eta=60, max_retries=60, description="Demo: close November 2026"
    )._psa_job_close_month((company | uk).ids, "2026-11-01")
    print("demo: the November close is queued (Accounting > PSA > Close the month)")
# The demo calls no outside service: CRM lead enrichment (crm_iap_enrich, installed with
# CRM) on demand only, as under Settings > CRM > Lead Enrichment. Its hourly cron would
# send the demo opportunity's email domain to Odoo's IAP with a 300-second timeout, the
# lead's row locked meanwhile: where the network drops connections rather than refusing
# them, it holds the only cron worker until Odoo kills it (limit_time_real) and is due
# first again in the next one, so no other cron (the connector's pulls, drains and
# retries of events whose reference arrived) ever runs.
_enrich_cron = env.ref("crm_iap_enrich.ir_cron_lead_enrichment", raise_if_not_found=False)
if _enrich_cron:
    _enrich_cron.active = False
# Lead to cash (issue 25, psa_connector_crm): an engagement template on the demo PSA and
# an opportunity to win. Marked won (CRM > Pipeline > Won), it becomes a customer, a
# project and a T&M contract on the demo PSA within seconds, and those land in Odoo.
if "psa.engagement.template" in env:
    Template = env["psa.engagement.template"].with_context(active_test=False)
    demo_template = Template.search(
        [("code", "=", "TM-ASSESS"), ("company_id", "=", company.id)]
    ) or Template.create(
        {
            "name": "Time and materials assessment",
            "code": "TM-ASSESS",
            "company_id": company.id,
            "backend_id": demo_psa.id,
            "psa_project_template": "ASSESSMENT",
            "contract_type": "time_and_materials",
            "currency_id": company.currency_id.id,
            "duration_months": 3,
            "budget_hours": 240,
            "rate_ids": [
                Command.create(
                    {
                        "role": "Consultant",
                        "service_item": "CONSULTING",
                        "hourly_rate": 140.0,
                        "is_default": True,
                    }
                ),
                Command.create(
                    {
                        "role": "Senior Consultant",
                        "service_item": "SENIOR-CONSULTING",
                        "hourly_rate": 190.0,
                    }
                ),
            ],
        }
    )
    tailspin = env["res.partner"].search(
        [("name", "=", "Tailspin Toys AG"), ("parent_id", "=", False)], limit=1
    ) or env["res.partner"].create(
        {
            "name": "Tailspin Toys AG",
            "is_company": True,
            "city": "Munich",
            "country_id": env.ref("base.de").id,
            "email": "procurement@tailspin.example",
        }
    )
    Lead = env["crm.lead"].with_context(active_test=False)
    if not Lead.search([("name", "=", "Tailspin Toys: retail analytics assessment")]):
        Lead.create(
            {
                "name": "Tailspin Toys: retail analytics assessment",
                "type": "opportunity",
                "partner_id": tailspin.id,
                "user_id": env.ref("base.user_admin").id,
                "expected_revenue": 45600.0,
                "company_id": company.id,
                "psa_engagement_template_id": demo_template.id,
                "psa_engagement_start_date": date(2026, 12, 14),
            }
        )
    print(
        "demo: opportunity 'Tailspin Toys: retail analytics assessment' (template "
        "TM-ASSESS): mark it won in CRM to create its PSA engagement"
    )
# Cash and ageing in the financials (issue 25): once Northwind's project (P-2001) has
# landed, a scheduled action posts two invoices on its analytic account, one paid at
# once and one due 45 days ago (dated today, so their numbers follow the others); it is
# triggered every 30 seconds for the first ten minutes and does nothing once they
# exist. Project financials and Account Health then show cash collected, an overdue
# bucket and DSO.
DEMO_CASH_CRON = "Demo: a paid and an overdue invoice for the financials"
DEMO_CASH_CODE = """
binding = env["psa.binding"].search(
    [("external_type", "=", "project"), ("external_id", "=", "P-2001")], limit=1
)
project = env["project.project"].browse(binding.res_id).exists()
Move = env["account.move"]
if project and project.account_id and project.partner_id and not Move.search_count(
    [("ref", "=like", "Demo cash:%")]
):
    today = datetime.date.today()
    distribution = {str(project.account_id.id): 100}
    moves = Move.create(
        [
            {
                "move_type": "out_invoice",
                "partner_id": project.partner_id.id,
                "ref": ref,
                "invoice_date": today,
                "invoice_date_due": today - datetime.timedelta(days=late),
                "invoice_payment_term_id": False,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": name,
                            "quantity": 1,
                            "price_unit": amount,
                            "analytic_distribution": distribution,
                        }
                    )
                ],
            }
            for ref, name, amount, late in (
                ("Demo cash: paid", "Advisory days, October", 4000.0, 0),
                ("Demo cash: overdue", "Data migration workshop", 6500.0, 45),
            )
        ]
    )
    moves.action_post()
    env["account.payment.register"].with_context(
        active_model="account.move", active_ids=moves[0].ids
    ).create({}).action_create_payments()
"""
if not env["account.move"].search_count([("ref", "=like", "Demo cash:%")]):
    _cash_cron = env["ir.cron"].with_context(active_test=False).search(
        [("name", "=", DEMO_CASH_CRON)]
    ) or env["ir.cron"].create(
        {
            "name": DEMO_CASH_CRON,
            "model_id": env.ref("account.model_account_move").id,
            "state": "code",
            "code": DEMO_CASH_CODE,
            "interval_number": 1,
            "interval_type": "days",
        }
    )
    _cash_cron.write({"active": True, "code": DEMO_CASH_CODE})
    _cash_cron._trigger([fields.Datetime.now() + timedelta(seconds=60 + 30 * i) for i in range(20)])
    print("demo: a paid and an overdue invoice are scheduled (PSA Connector > Account Health)")
env.cr.commit()
