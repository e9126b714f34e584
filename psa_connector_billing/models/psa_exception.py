from markupsafe import Markup

from odoo import _, api, models

from .psa_service_mapping import WAITING_TYPES
from .psa_tax_mapping import TAX_CODE_WAITING_TYPE

# Waiting types resolved by a catalogue or tax mapping (not by a binding), and the Odoo
# model the map wizard offers for them.
CATALOGUE_MODELS = {
    WAITING_TYPES["service_item"]: "product.product",
    WAITING_TYPES["role"]: "product.product",
    TAX_CODE_WAITING_TYPE: "account.tax",
}


class PsaException(models.Model):
    _inherit = "psa.exception"

    def _mapping_model(self):
        self.ensure_one()
        if self.waiting_type in CATALOGUE_MODELS:
            return CATALOGUE_MODELS[self.waiting_type]
        return super()._mapping_model()

    def _suggest_references(self, limit=5):
        """Service products or sale taxes whose code or name contain the missing code."""
        self.ensure_one()
        if self.waiting_type not in CATALOGUE_MODELS:
            return super()._suggest_references(limit=limit)
        model = CATALOGUE_MODELS[self.waiting_type]
        code = self.waiting_external_id or ""
        if not code or not self.env[model].has_access("read"):
            return []
        if model == "account.tax":
            domain = [
                ("type_tax_use", "=", "sale"),
                "|",
                ("name", "ilike", code),
                ("description", "ilike", code),
            ]
        else:
            domain = [
                ("type", "=", "service"),
                ("sale_ok", "=", True),
                "|",
                ("default_code", "=ilike", code),
                ("name", "ilike", code),
            ]
        records = self.env[model].search(domain, limit=limit)
        return [
            {
                "res_model": model,
                "res_id": record.id,
                "display_name": record.display_name,
                # An exact product code beats a name that merely contains the code.
                "score": 90
                if model == "product.product"
                and (record.default_code or "").lower() == code.lower()
                else 60,
                "evidence": _("code or name contains %s", code),
            }
            for record in records
        ]

    @api.depends("category", "waiting_type", "waiting_external_id", "backend_id")
    def _compute_explanation(self):
        super()._compute_explanation()
        for exception in self:
            if (
                exception.category == "missing_reference"
                and exception.waiting_type in CATALOGUE_MODELS
                and exception.waiting_external_id
            ):
                text = (
                    _(
                        "%(backend)s requires a mapping for PSA tax code %(ref)s in the "
                        "contract's company. Nothing was drafted. A Connector Manager maps "
                        "it with <b>Map to Odoo record</b> (choose the company's sale tax) "
                        "or in the backend's Tax mapping tab; the change is retried then."
                    )
                    if exception.waiting_type == TAX_CODE_WAITING_TYPE
                    else _(
                        "%(backend)s requires a product of the service catalogue for PSA "
                        "%(ref)s. No order line was created. A Connector Manager maps it "
                        "with <b>Map to Odoo record</b> (choose the service product) or in "
                        "the backend's Service catalogue tab; the change is retried then."
                    )
                )
                exception.explanation = Markup("<p>%s</p>") % (
                    Markup(text)
                    % {
                        "backend": exception.backend_id.name or "",
                        "ref": exception.waiting_external_id,
                    }
                )
