import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)


class PsaPendingLink(models.Model):
    """A link to an external object Odoo does not hold yet, set once it arrives.

    Used where waiting would block: a manager is often imported after their team
    (and a department's manager after the department), so the record is created
    without the link and the link is completed by the manager's binding.
    """

    _name = "psa.pending.link"
    _inherit = ["psa.workflow.guard.mixin"]
    _description = "PSA Connector Pending Link"
    _order = "id"
    # The link is applied under sudo when the object arrives: where it writes is set by
    # the importers only, and only to a declared (model, field) pair.
    _psa_workflow_fields = (
        "backend_id",
        "res_model",
        "res_id",
        "field_name",
        "external_type",
        "external_id",
    )

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    res_model = fields.Char(string="Odoo model", required=True)
    res_id = fields.Many2oneReference(
        string="Odoo record ID", model_field="res_model", required=True
    )
    field_name = fields.Char(required=True, help="The many2one field to set.")
    external_type = fields.Char(required=True, index=True)
    external_id = fields.Char(string="External ID", required=True, index=True)

    _sql_constraints = [
        (
            "field_unique",
            "unique(res_model, res_id, field_name)",
            "A field waits for one external object at a time.",
        ),
    ]

    @api.model
    def _psa_allowed_link_targets(self):
        """{(model, many2one field): external type of its target} a link may complete.

        The only places a pending link writes, under sudo; an addon that needs another
        one extends this method.
        """
        return {
            ("hr.employee", "parent_id"): "employee",
            ("hr.department", "manager_id"): "employee",
        }

    def _psa_link_allowed(self, res_model, field_name, external_type):
        allowed = self._psa_allowed_link_targets()
        return allowed.get((res_model, field_name)) == external_type

    @api.constrains("res_model", "field_name", "external_type")
    def _check_declared_target(self):
        # Under sudo too: no code path has a reason to wait on an undeclared field.
        for link in self:
            if not self._psa_link_allowed(link.res_model, link.field_name, link.external_type):
                raise ValidationError(
                    _(
                        "A pending link cannot set %(model)s.%(field)s from a %(type)s.",
                        model=link.res_model,
                        field=link.field_name,
                        type=link.external_type,
                    )
                )

    def _target_model(self):
        self.ensure_one()
        return self.env[self.res_model]._fields[self.field_name].comodel_name

    @api.model
    def _set(self, backend, record, field_name, external_type, external_id):
        """Point ``record.field_name`` to an external object, now or when it arrives.

        Until it arrives the field is empty: keeping a previous value would show a
        link the source system no longer has.
        """
        target = self.env["psa.binding"]._find_record(backend, external_type, external_id)
        self._forget(record, field_name)
        target = target or record[field_name].browse()
        if record[field_name] != target:
            record[field_name] = target
        if target:
            return target
        self.sudo().create(
            {
                "backend_id": backend.id,
                "res_model": record._name,
                "res_id": record.id,
                "field_name": field_name,
                "external_type": external_type,
                "external_id": str(external_id),
            }
        )
        return None

    @api.model
    def _forget(self, record, field_name):
        self.sudo().search(
            [
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("field_name", "=", field_name),
            ]
        ).unlink()

    @api.model
    def _apply_for(self, bindings):
        """Complete the links waiting for the objects these bindings bring."""
        bindings = bindings.filtered("res_id")
        if not bindings:
            return
        links = self.search(
            [
                ("backend_id", "in", bindings.backend_id.ids),
                ("external_id", "in", bindings.mapped("external_id")),
            ]
        )
        if not links:
            # The common case at month-end volumes: nothing waits for these objects.
            return
        for binding in bindings:
            matching = links.filtered(
                lambda link, b=binding: (
                    (link.backend_id, link.external_type, link.external_id)
                    == (b.backend_id, b.external_type, b.external_id)
                )
            )
            if not matching:
                continue
            target = binding._record()
            for link in matching:
                # Checked again here, at the sudo write: a row that got past the
                # constraint (SQL, an older version) must still not choose the field.
                if not self._psa_link_allowed(
                    link.res_model, link.field_name, link.external_type
                ) or (target and target._name != link._target_model()):
                    _logger.warning(
                        "Pending link %s to an undeclared target %s.%s dropped.",
                        link.id,
                        link.res_model,
                        link.field_name,
                    )
                    continue
                record = self.env[link.res_model].browse(link.res_id).exists()
                if record and target:
                    record[link.field_name] = target
            matching.unlink()
