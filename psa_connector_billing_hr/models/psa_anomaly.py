from odoo import api, models


class PsaAnomaly(models.Model):
    _inherit = "psa.anomaly"

    @api.model
    def _approved_leave(self, pairs):
        """Approved (validated) time off covering the (employee, day) pairs, in one query."""
        result = super()._approved_leave(pairs)
        if not pairs:
            return result
        self.env["hr.leave"].flush_model(
            ["employee_id", "state", "request_date_from", "request_date_to", "holiday_status_id"]
        )
        self.env.cr.execute(
            """SELECT DISTINCT ON (p.employee_id, p.day) p.employee_id, p.day, t.name,
                      l.request_date_from, l.request_date_to
                 FROM unnest(%s::int[], %s::date[]) AS p(employee_id, day)
                 JOIN hr_leave l ON l.employee_id = p.employee_id AND l.state = 'validate'
                  AND l.request_date_from <= p.day AND l.request_date_to >= p.day
                 JOIN hr_leave_type t ON t.id = l.holiday_status_id
                ORDER BY p.employee_id, p.day, l.id""",
            ([p[0] for p in pairs], [p[1] for p in pairs]),
        )
        lang = self.env.lang or "en_US"
        for employee_id, day, type_name, date_from, date_to in self.env.cr.fetchall():
            name = type_name.get(lang) or type_name.get("en_US") or ""
            result[(employee_id, day)] = f"{name} {date_from} to {date_to}"
        return result
