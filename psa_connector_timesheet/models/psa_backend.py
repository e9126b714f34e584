import json
from datetime import timedelta

from odoo import _, api, fields, models


class PsaBackend(models.Model):
    _inherit = "psa.backend"

    approved_time_states = fields.Char(
        default="approved",
        help="Comma-separated time-entry states of the remote system that count as approved. "
        "Only approved entries become timesheet lines.",
    )
    employee_match_key = fields.Selection(
        [("binding", "Employee bindings only"), ("work_email", "Bindings, then work e-mail")],
        default="work_email",
        required=True,
        help="How a time entry's employee is found when no employee binding names it.",
    )
    reconciliation_days = fields.Integer(
        default=31, help="Days back the nightly reconciliation compares."
    )

    def _approved_time_states(self):
        self.ensure_one()
        return {s.strip() for s in (self.approved_time_states or "").split(",") if s.strip()}

    def _pull_object_types(self):
        types = super()._pull_object_types()
        if self.kind == "psa":
            types.append("time_entry")
        return types

    # Billed entries out ---------------------------------------------------------------

    def _enqueue_billed_push(self, external_ids, invoice):
        self.ensure_one()
        self._as_integration_user().with_delay(
            description=f"Tell {self.name}: {len(external_ids)} time entries billed",
        )._push_billed_job(sorted(external_ids), invoice)

    def _push_billed_job(self, external_ids, invoice):
        self.ensure_one()
        unknown, failure = self._run_remote(
            "report of billed time",
            lambda adapter: adapter.mark_time_entries_billed(external_ids, invoice),
            object_type="time_entry",
            payload=json.dumps({"ids": external_ids, "invoice": invoice}),
            audit=lambda unknown: {
                "operation": "push",
                "res_model": "account.move",
                "res_id": invoice.get("odoo_id"),
                "message": _(
                    "%(count)s entries reported billed on %(number)s",
                    count=len(external_ids),
                    number=invoice.get("number"),
                ),
                "values": {"ids": external_ids, "unknown": unknown},
            },
        )
        if failure:
            return failure
        return f"{len(external_ids)} reported, {len(unknown)} unknown to the remote system"

    # Reconciliation ----------------------------------------------------------------

    @api.model
    def _cron_reconcile_time(self):
        today = fields.Date.context_today(self)
        # Root only finds every company's backends; each reconciliation is made and run by
        # the backend company's integration user.
        for backend in self.search([("kind", "=", "psa"), ("base_url", "!=", False)]):
            backend = backend._as_integration_user()
            backend.env["psa.timesheet.reconciliation"].create(
                {
                    "backend_id": backend.id,
                    "date_from": today - timedelta(days=backend.reconciliation_days),
                    "date_to": today,
                }
            ).action_run()

    # Connector dashboard ----------------------------------------------------------------

    def _dashboard_unbilled_hours(self):
        """Hours of approved time synchronised from each PSA backend, not invoiced yet."""
        result = super()._dashboard_unbilled_hours()
        psa = self.filtered(lambda b: b.kind == "psa" and b.id)
        if not psa:
            return result
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT b.backend_id, SUM(l.unit_amount)
              FROM psa_binding b
              JOIN account_analytic_line l ON l.id = b.res_id
             WHERE b.res_model = 'account.analytic.line' AND b.backend_id IN %s
               AND l.timesheet_invoice_id IS NULL
             GROUP BY b.backend_id
            """,
            [tuple(psa.ids)],
        )
        result.update(dict.fromkeys(psa.ids, 0.0))
        result.update(dict(self.env.cr.fetchall()))
        return result
