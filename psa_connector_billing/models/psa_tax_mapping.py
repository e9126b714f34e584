from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.psa_connector_base.tools.errors import MissingReference

# What the exception queue waits for when a PSA tax code has no tax in the company.
TAX_CODE_WAITING_TYPE = "tax_code"


class PsaTaxMapping(models.Model):
    """Taxes of PSA contracts, per backend and company.

    Two kinds of rules:

    * a PSA tax code → the sale taxes of the company its lines get (a contract, rate
      card entry, milestone, billing event or expense may name one);
    * a customer rule: the customer's country and VAT status → the fiscal position of
      the order, which maps the taxes of every line (reverse charge, export, ...).
    """

    _name = "psa.tax.mapping"
    _description = "PSA Connector: Tax Code or Customer Rule to Taxes"
    _order = "backend_id, company_id, mapping_type, sequence, id"

    backend_id = fields.Many2one(
        "psa.backend",
        string="Backend",
        required=True,
        ondelete="cascade",
        index=True,
        domain=[("kind", "=", "psa")],
    )
    company_id = fields.Many2one(
        "res.company",
        string="Company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        help="The company whose contracts this rule applies to; its taxes and fiscal "
        "positions are that company's.",
    )
    mapping_type = fields.Selection(
        [("tax_code", "PSA tax code"), ("fiscal_position", "Customer country and VAT")],
        string="Rule",
        required=True,
        default="tax_code",
    )
    sequence = fields.Integer(
        default=10, help="Customer rules: the first matching rule (lowest first) wins."
    )
    code = fields.Char(
        string="PSA tax code",
        help="The tax code exactly as the PSA sends it (tax_code on contracts, rate card "
        "entries, milestones, billing events and expenses).",
    )
    tax_ids = fields.Many2many(
        "account.tax",
        string="Taxes",
        domain="[('type_tax_use', '=', 'sale'), ('company_id', '=', company_id)]",
        help="The sale taxes of the company the lines with this code get (before the "
        "order's fiscal position maps them).",
    )
    country_id = fields.Many2one(
        "res.country",
        string="Customer country",
        help="Customers of this country. Empty: any country.",
    )
    vat_status = fields.Selection(
        [("any", "Any"), ("vat", "Has a VAT number"), ("no_vat", "No VAT number")],
        string="Customer VAT",
        default="any",
    )
    fiscal_position_id = fields.Many2one(
        "account.fiscal.position",
        string="Fiscal position",
        domain="[('company_id', '=', company_id)]",
        help="Set on the orders of matching customers; their invoices inherit it.",
    )
    active = fields.Boolean(default=True)

    @api.constrains(
        "mapping_type", "code", "tax_ids", "fiscal_position_id", "company_id", "backend_id"
    )
    def _check_rule(self):
        for rule in self:
            company = rule.company_id
            if rule.mapping_type == "tax_code":
                if not rule.code or not rule.tax_ids:
                    raise ValidationError(_("A tax code rule needs the code and its taxes."))
                wrong = rule.tax_ids.filtered(
                    lambda tax, c=company: tax.company_id != c or tax.type_tax_use != "sale"
                )
                if wrong:
                    raise ValidationError(
                        _(
                            "%(taxes)s: only sale taxes of %(company)s can be mapped here.",
                            taxes=", ".join(wrong.mapped("name")),
                            company=company.name,
                        )
                    )
                clash = self.search_count(
                    [
                        ("id", "!=", rule.id),
                        ("backend_id", "=", rule.backend_id.id),
                        ("company_id", "=", company.id),
                        ("mapping_type", "=", "tax_code"),
                        ("code", "=", rule.code),
                    ]
                )
                if clash:
                    raise ValidationError(
                        _(
                            "Tax code %(code)s is already mapped for %(company)s.",
                            code=rule.code,
                            company=company.name,
                        )
                    )
            else:
                if not rule.fiscal_position_id:
                    raise ValidationError(_("A customer rule needs a fiscal position."))
                if rule.fiscal_position_id.company_id != company:
                    raise ValidationError(
                        _(
                            "%(fpos)s is not a fiscal position of %(company)s.",
                            fpos=rule.fiscal_position_id.name,
                            company=company.name,
                        )
                    )

    @api.depends("mapping_type", "code", "country_id", "vat_status", "company_id")
    def _compute_display_name(self):
        for rule in self:
            if rule.mapping_type == "tax_code":
                what = rule.code or ""
            else:
                what = " / ".join(
                    filter(
                        None,
                        [
                            rule.country_id.code or _("any country"),
                            dict(self._fields["vat_status"].selection).get(rule.vat_status),
                        ],
                    )
                )
            rule.display_name = f"{what} ({rule.company_id.name})"

    # Lookup ------------------------------------------------------------------------

    @api.model
    def _taxes_for(self, backend, company, code):
        """The sale taxes of ``company`` for the PSA tax ``code``; an unknown code waits
        in the exception queue for its mapping (nothing is drafted meanwhile)."""
        rule = self.search(
            [
                ("backend_id", "=", backend.id),
                ("company_id", "=", company.id),
                ("mapping_type", "=", "tax_code"),
                ("code", "=", code),
            ],
            limit=1,
        )
        if not rule:
            raise MissingReference(
                TAX_CODE_WAITING_TYPE,
                code,
                message=_(
                    "Tax code %(code)s is not mapped to a tax of company %(company)s on "
                    "%(backend)s. Nothing was drafted. Map the code to the company's sale "
                    "tax (Map and retry, or the backend's tax mapping); the change is "
                    "retried then.",
                    code=repr(code),
                    company=repr(company.name),
                    backend=repr(backend.name),
                ),
            )
        return rule.tax_ids

    @api.model
    def _fiscal_position_for(self, backend, company, partner):
        """The fiscal position the first matching customer rule names, or None."""
        rules = self.search(
            [
                ("backend_id", "=", backend.id),
                ("company_id", "=", company.id),
                ("mapping_type", "=", "fiscal_position"),
            ]
        )
        partner = partner.commercial_partner_id
        has_vat = bool(partner.vat)
        for rule in rules:
            if rule.country_id and rule.country_id != partner.country_id:
                continue
            if rule.vat_status == "vat" and not has_vat:
                continue
            if rule.vat_status == "no_vat" and has_vat:
                continue
            return rule.fiscal_position_id
        return None

    # Waking what waited for a mapping ---------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        rules._wake_waiting()
        return rules

    def write(self, vals):
        result = super().write(vals)
        if {"code", "tax_ids", "company_id", "active", "mapping_type"} & set(vals):
            self._wake_waiting()
        return result

    def _wake_waiting(self):
        """Retry the changes that stopped for these tax codes."""
        self.env["psa.exception"]._wake_waiting_for_keys(
            {
                (rule.backend_id.id, TAX_CODE_WAITING_TYPE, rule.code)
                for rule in self.filtered(lambda r: r.active and r.mapping_type == "tax_code")
            }
        )
