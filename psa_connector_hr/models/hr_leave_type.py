from odoo import api, fields, models


class HrLeaveType(models.Model):
    _inherit = "hr.leave.type"

    psa_leave_type = fields.Char(
        string="HR system leave type",
        index=True,
        copy=False,
        help="The leave type code of the HR system this time off type stands for.",
    )

    @api.model
    def _psa_for(self, company, code):
        """The time off type of ``company`` for an HR system leave type; created once.

        The HR system has approved the leave already, so the type needs neither an
        allocation nor a second approval in Odoo.
        """
        leave_types = self.sudo().with_context(active_test=False)
        leave_type = leave_types.search(
            [("psa_leave_type", "=", code), ("company_id", "=", company.id)], limit=1
        )
        if not leave_type:
            leave_type = leave_types.create(
                {
                    "name": f"PSA: {code}",
                    "psa_leave_type": code,
                    "company_id": company.id,
                    "requires_allocation": "no",
                    "leave_validation_type": "no_validation",
                    "request_unit": "day",
                    "time_type": "leave",
                }
            )
        return leave_type.sudo(False)
