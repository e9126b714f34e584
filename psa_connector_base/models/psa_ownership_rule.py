from odoo import api, fields, models

# Sensible defaults: the PSA runs delivery, Odoo runs finance.
DEFAULT_ODOO_OWNED = {
    "customer": [
        "street",
        "street2",
        "zip",
        "city",
        "state_id",
        "country_id",
        "property_payment_term_id",
        "property_account_position_id",
    ],
    "project": [],
    "task": [],
}
DEFAULT_EXTERNAL_OWNED = {
    "customer": ["name", "vat", "ref", "email", "phone", "website"],
    "project": ["name", "stage_id", "active", "date_start", "date", "partner_id"],
    "task": ["name", "state", "allocated_hours", "description"],
}
OBJECT_MODELS = {"customer": "res.partner", "project": "project.project", "task": "project.task"}


class PsaOwnershipRule(models.Model):
    """Which system owns a field: an inbound change to an Odoo-owned field is not applied."""

    _name = "psa.ownership.rule"
    _description = "PSA Connector Field Ownership Rule"
    _order = "backend_id, object_type, field_name"

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    object_type = fields.Char(required=True)
    field_name = fields.Char(required=True, help="Technical name of the Odoo field.")
    owner = fields.Selection(
        [("external", "Remote system"), ("odoo", "Odoo")], required=True, default="external"
    )

    _sql_constraints = [
        (
            "rule_unique",
            "unique(backend_id, object_type, field_name)",
            "One ownership rule per field and object type.",
        ),
    ]

    @api.model
    def _create_defaults(self, backend):
        rows = []
        for owner, table in (("odoo", DEFAULT_ODOO_OWNED), ("external", DEFAULT_EXTERNAL_OWNED)):
            for object_type, names in table.items():
                model = self.env[OBJECT_MODELS[object_type]]
                rows += [
                    {
                        "backend_id": backend.id,
                        "object_type": object_type,
                        "field_name": name,
                        "owner": owner,
                    }
                    for name in names
                    if name in model._fields
                ]
        self.create(rows)

    @api.model
    def _odoo_owned(self, backend, object_type):
        return set(
            self.search(
                [
                    ("backend_id", "=", backend.id),
                    ("object_type", "=", object_type),
                    ("owner", "=", "odoo"),
                ]
            ).mapped("field_name")
        )
