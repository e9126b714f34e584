from odoo import api, fields, models


class PsaPendingLink(models.Model):
    """A link to an external object Odoo does not hold yet, set once it arrives.

    Used where waiting would block: a manager is often imported after their team
    (and a department's manager after the department), so the record is created
    without the link and the link is completed by the manager's binding.
    """

    _name = "psa.pending.link"
    _description = "PSA Connector Pending Link"
    _order = "id"

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
                lambda link, b=binding: (link.backend_id, link.external_type, link.external_id)
                == (b.backend_id, b.external_type, b.external_id)
            )
            if not matching:
                continue
            target = binding._record()
            for link in matching:
                record = self.env[link.res_model].browse(link.res_id).exists()
                if record and target:
                    record[link.field_name] = target
            matching.unlink()
