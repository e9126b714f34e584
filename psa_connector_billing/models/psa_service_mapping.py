from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.psa_connector_base.tools.errors import MissingReference, SyncError

# What the exception queue waits for when a service item or role has no product
# (``psa.exception.waiting_type``); the map wizard creates a mapping for them.
WAITING_TYPES = {"service_item": "service_item", "role": "service_role"}

# Line kinds of a contract (psa_importer_contract.SERVICE_PRODUCTS) and what their
# product must be for sale/sale_timesheet to invoice them as the connector does.
TIME_KINDS = ("time_and_materials",)


class PsaServiceMapping(models.Model):
    """The service catalogue: a PSA service item or role → the Odoo product its lines use.

    The product decides everything Odoo derives from it: service type and invoicing
    policy, the income account (per company), the unit of measure (hours or days) and
    the default taxes (unless a tax mapping overrides them).
    """

    _name = "psa.service.mapping"
    _description = "PSA Connector: Service Item or Role to Product"
    _order = "backend_id, kind, code, company_id"
    _rec_name = "code"

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
        index=True,
        help="Only for contracts of this company. Empty: every company the backend serves; "
        "a mapping of the contract's company wins over one without a company.",
    )
    kind = fields.Selection(
        [("service_item", "Service item"), ("role", "Role")],
        required=True,
        default="service_item",
        help="Service item: the PSA's service code on rate card entries, milestones and "
        "billing events (service_item). Role: a rate card role without a service item.",
    )
    code = fields.Char(
        string="PSA code or role",
        required=True,
        help="The service item's code, or the role's name, exactly as the PSA sends it.",
    )
    product_id = fields.Many2one(
        "product.product",
        string="Product",
        required=True,
        ondelete="restrict",
        domain=[("type", "=", "service"), ("sale_ok", "=", True)],
        help="A service product. Time and materials needs a product whose delivered "
        "quantity is timesheets (invoiced on delivered quantities); milestones, fees, "
        "retainers and change orders need a manually delivered one.",
    )
    uom_id = fields.Many2one(related="product_id.uom_id", string="Unit")
    service_type = fields.Selection(related="product_id.service_type")
    invoice_policy = fields.Selection(related="product_id.invoice_policy")
    active = fields.Boolean(default=True)

    @api.constrains("backend_id", "kind", "code", "company_id", "active")
    def _check_unique(self):
        for mapping in self.filtered("active"):
            clash = self.search_count(
                [
                    ("id", "!=", mapping.id),
                    ("backend_id", "=", mapping.backend_id.id),
                    ("kind", "=", mapping.kind),
                    ("code", "=", mapping.code),
                    ("company_id", "=", mapping.company_id.id),
                ]
            )
            if clash:
                raise ValidationError(
                    _(
                        "%(code)s is already mapped for this backend and company.",
                        code=mapping.code,
                    )
                )

    @api.constrains("product_id", "kind", "company_id")
    def _check_product(self):
        for mapping in self:
            product = mapping.product_id
            if product.company_id and product.company_id != mapping.company_id:
                raise ValidationError(
                    _(
                        "%(product)s belongs to %(company)s: map it for that company only.",
                        product=product.display_name,
                        company=product.company_id.name,
                    )
                )
            problem = self._product_problem(
                product, "time_and_materials" if mapping.kind == "role" else None
            )
            if problem:
                raise ValidationError(problem)

    @api.model
    def _product_problem(self, product, line_kind=None):
        """Why ``product`` cannot carry a contract line of ``line_kind``, or None.

        ``line_kind`` None checks only what every line needs (a sellable service).
        """
        if product.type != "service" or not product.sale_ok:
            return _("%s is not a sellable service product.", product.display_name)
        if line_kind is None:
            return None
        if line_kind in TIME_KINDS:
            if product.service_type != "timesheet" or product.invoice_policy != "delivery":
                return _(
                    "%s cannot price time and materials: its delivered quantity must be "
                    "timesheets on tasks and it must be invoiced on delivered quantities "
                    "(so that approved time is invoiced).",
                    product.display_name,
                )
            hour = self.env.ref("uom.product_uom_hour")
            if product.uom_id.category_id != hour.category_id:
                return _(
                    "%s cannot price time: its unit of measure is not a unit of time.",
                    product.display_name,
                )
            return None
        if product.service_type != "manual":
            return _(
                "%s cannot carry a milestone, fee, retainer or change order: its delivered "
                "quantity must be set manually (the PSA's billing events set it).",
                product.display_name,
            )
        return None

    # Lookup ------------------------------------------------------------------------

    @api.model
    def _product_for(self, backend, company, kind, code, line_kind):
        """The product mapped to (``kind``, ``code``) for ``company``, checked for
        ``line_kind``; None when nothing is mapped (the caller decides what that means)."""
        mappings = self.search(
            [
                ("backend_id", "=", backend.id),
                ("kind", "=", kind),
                ("code", "=", code),
                ("company_id", "in", (company.id, False)),
            ]
        )
        mapping = mappings.filtered(lambda m: m.company_id == company)[:1] or mappings[:1]
        if not mapping:
            return None
        problem = self._product_problem(mapping.product_id, line_kind)
        if problem:
            raise SyncError(
                _(
                    "Service %(kind)s %(code)s is mapped to a product that does not fit: "
                    "%(problem)s Correct the mapping in the backend's service catalogue, "
                    "then retry.",
                    kind=dict(self._fields["kind"].selection)[kind].lower(),
                    code=repr(code),
                    problem=problem,
                )
            )
        return mapping.product_id

    @api.model
    def _missing(self, backend, company, kind, code):
        """The exception for an unmapped service item or role (waits for its mapping)."""
        label = _("Service item") if kind == "service_item" else _("Role")
        return MissingReference(
            WAITING_TYPES[kind],
            code,
            message=_(
                "%(label)s %(code)s has no product in the service catalogue of %(backend)s "
                "for company %(company)s, which requires one. Map it to a product (Map and "
                "retry) or add it to the catalogue; the change is retried then.",
                label=label,
                code=repr(code),
                backend=repr(backend.name),
                company=repr(company.name),
            ),
        )

    # Waking what waited for a mapping ---------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        mappings = super().create(vals_list)
        mappings._wake_waiting()
        return mappings

    def write(self, vals):
        result = super().write(vals)
        if {"code", "kind", "backend_id", "active", "product_id"} & set(vals):
            self._wake_waiting()
        return result

    def _wake_waiting(self):
        """Retry the changes that stopped for these codes (as the queue's own sweep does)."""
        self.env["psa.exception"]._wake_waiting_for_keys(
            {(m.backend_id.id, WAITING_TYPES[m.kind], m.code) for m in self.filtered("active")}
        )
