from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError

from ..tools.errors import UnmappedEntity


class PsaEntityMapping(models.Model):
    """A legal entity (or business unit) of the remote system → an Odoo company.

    One backend may serve several companies: the records that originate a company
    (customers, projects, employees, departments) carry the entity in ``legal_entity``
    and land in the mapped company; the records depending on them follow their parent
    (``psa.importer._target_company``). No entity in a payload: the backend's company.
    """

    _name = "psa.entity.mapping"
    _description = "PSA Connector Legal Entity Mapping"
    _order = "backend_id, code, id"
    _rec_name = "code"

    backend_id = fields.Many2one(
        "psa.backend", required=True, ondelete="cascade", index=True, string="Backend"
    )
    company_id = fields.Many2one(
        related="backend_id.company_id",
        store=True,
        index=True,
        string="Backend company",
        help="The backend's own company: who may see this mapping.",
    )
    code = fields.Char(
        string="Legal entity",
        required=True,
        help="The legal entity or business-unit code as the remote system sends it in "
        "the payloads' legal_entity (compared exactly, ignoring surrounding spaces).",
    )
    name = fields.Char(string="Description", help="What the remote system calls the entity.")
    target_company_id = fields.Many2one(
        "res.company",
        string="Odoo company",
        required=True,
        ondelete="restrict",
        help="The company the entity's records are created in, with its currency, "
        "journals and sequences. The backend company's integration user is given access "
        "to it.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "code_unique",
            "unique(backend_id, code)",
            "A legal entity is mapped once per backend.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("code"):
                vals["code"] = vals["code"].strip()
        mappings = super().create(vals_list)
        mappings._check_companies_allowed()
        mappings._grant_integration_user()
        return mappings

    def write(self, vals):
        if vals.get("code"):
            vals["code"] = vals["code"].strip()
        # Before and after: a new code sends other records to the same company, so any
        # change is for a user of both companies.
        self._check_companies_allowed()
        result = super().write(vals)
        self._check_companies_allowed()
        if {"backend_id", "target_company_id", "active"} & set(vals):
            self._grant_integration_user()
        return result

    def unlink(self):
        self._check_companies_allowed()
        return super().unlink()

    def _check_companies_allowed(self):
        """Only a user of both companies maps one onto the other (checked on the server:
        the view's domain is a convenience, this is the rule)."""
        if self.env.su:
            return
        allowed = self.env.user.company_ids
        for mapping in self:
            companies = mapping.sudo().backend_id.company_id | mapping.sudo().target_company_id
            missing = companies - allowed
            if missing:
                raise AccessError(
                    _(
                        "You may not map legal entity %(code)s to %(company)s: you have no "
                        "access to %(missing)s.",
                        code=mapping.code,
                        company=mapping.sudo().target_company_id.name,
                        missing=", ".join(missing.mapped("name")),
                    )
                )

    def _grant_integration_user(self):
        """The backend company's integration user works in every mapped company."""
        for mapping in self.filtered("active"):
            backend_company = mapping.sudo().backend_id.company_id
            target = mapping.sudo().target_company_id
            user = backend_company._psa_integration_user()
            if target not in user.sudo().company_ids:
                # sudo: adding a company to a user needs the right to edit users. The
                # company is the mapping's target, which the caller was just checked to
                # have access to; the user is the connector's own integration user.
                user.sudo().write({"company_ids": [Command.link(target.id)]})

    @api.model
    def _companies_of(self, backend):
        """The companies a backend serves: its own and those its active mappings name."""
        mappings = self.sudo().search([("backend_id", "=", backend.id)])
        return backend.sudo().company_id | mappings.target_company_id

    @api.model
    def _company_for(self, backend, code):
        """The company of a payload's legal entity (none: the backend's); raises
        UnmappedEntity for an entity no active mapping names."""
        code = (code or "").strip() if isinstance(code, str) else code
        if not code:
            return backend.company_id
        mapping = self.sudo().search(
            [("backend_id", "=", backend.id), ("code", "=", str(code))], limit=1
        )
        if not mapping:
            raise UnmappedEntity(
                _(
                    "Legal entity '%(code)s' is not mapped to an Odoo company on backend "
                    "%(backend)s. Map it under Connector > Configuration > Legal entities "
                    "(or the backend's Legal entities tab), then retry.",
                    code=code,
                    backend=backend.name,
                ),
                legal_entity=code,
            )
        return mapping.target_company_id
