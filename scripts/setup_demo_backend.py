# Run by scripts/run.sh through `odoo-bin shell`: points the demo backends at the demo
# PSA (which also plays the HR system) and queues a first pull of each, which the job
# runner executes as soon as Odoo starts.
import os
from datetime import date

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
# Capacity for the seeded weeks (late October to December 2026), once the HR pull has
# brought the employees: the utilisation report then has capacity, forecast and actuals.
env["psa.capacity.day"].with_delay(
    eta=45, description="Demo: capacity of the seeded weeks"
)._compute_period(date(2026, 10, 26), date(2026, 12, 27))
env.ref("psa_connector_base.ir_cron_psa_pull").write(
    {"interval_number": 1, "interval_type": "minutes"}
)
env.cr.commit()
