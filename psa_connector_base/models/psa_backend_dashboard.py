from datetime import datetime, time, timedelta

import pytz
from markupsafe import Markup

from odoo import _, fields, models

from ..tools.access import USER, requires_group

# Events received longer ago than this and still not applied count as delayed.
DELAY_THRESHOLD = timedelta(hours=1)


class PsaBackend(models.Model):
    """The figures of the connector dashboard, one card per backend.

    Every figure is computed in a few grouped queries for all shown backends. Figures
    that live in other addons (unbilled hours in the timesheet addon) come from hooks
    (``_dashboard_unbilled_hours``) that return nothing here.
    """

    _inherit = "psa.backend"

    dash_received_today = fields.Integer(
        string="Received today", compute="_compute_dashboard", help="Events received today."
    )
    dash_applied_today = fields.Integer(string="Applied today", compute="_compute_dashboard")
    dash_failed_today = fields.Integer(
        string="Failed today",
        compute="_compute_dashboard",
        help="Events received today that failed or wait for a reference.",
    )
    dash_received_week = fields.Integer(
        string="Received this week", compute="_compute_dashboard", help="Since Monday."
    )
    dash_applied_week = fields.Integer(string="Applied this week", compute="_compute_dashboard")
    dash_failed_week = fields.Integer(string="Failed this week", compute="_compute_dashboard")
    dash_queue_depth = fields.Integer(
        string="Queue depth",
        compute="_compute_dashboard",
        help="Events received and not processed yet.",
    )
    dash_oldest_exception_date = fields.Datetime(
        string="Oldest waiting exception",
        compute="_compute_dashboard",
        help="When the oldest open exception of this backend was raised.",
    )
    dash_delayed_postings = fields.Integer(
        string="Delayed postings",
        compute="_compute_dashboard",
        help="Changes received more than an hour ago that are still not applied in Odoo.",
    )
    dash_unbilled_hours = fields.Float(
        string="Approved, unbilled hours",
        compute="_compute_dashboard",
        help="Approved hours synchronised from this backend that are not invoiced yet.",
    )
    dash_has_unbilled_hours = fields.Boolean(
        compute="_compute_dashboard",
        help="Whether an installed addon reports unbilled hours for this kind of backend.",
    )
    dash_remote_error_rate = fields.Float(
        string="Remote error rate (%)",
        compute="_compute_dashboard",
        help="Over the last 7 days: calls to the remote system that failed after all "
        "retries, as a share of all recorded outbound calls (write-backs and failures).",
    )
    dash_pull_status = fields.Html(
        string="Last successful pull",
        compute="_compute_dashboard",
        sanitize=False,
        help="Per object type: when the last pull succeeded, and the last error if any.",
    )

    def _dashboard_bounds(self):
        """(start of today, start of this week) in the user's time zone, as UTC."""
        tz = pytz.timezone(self.env.user.tz or "UTC")
        local_today = datetime.now(tz).date()
        monday = local_today - timedelta(days=local_today.weekday())

        def utc(day):
            local = tz.localize(datetime.combine(day, time.min))
            return local.astimezone(pytz.utc).replace(tzinfo=None)

        return utc(local_today), utc(monday)

    def _compute_dashboard(self):
        self.env.flush_all()
        today, week = self._dashboard_bounds()
        now = fields.Datetime.now()
        ids = tuple(self.ids) or (0,)
        cr = self.env.cr
        cr.execute(
            """
            SELECT backend_id,
                   COUNT(*) FILTER (WHERE create_date >= %(today)s),
                   COUNT(*) FILTER (WHERE create_date >= %(today)s AND state = 'done'),
                   COUNT(*) FILTER (WHERE create_date >= %(today)s
                                      AND state IN ('failed', 'waiting')),
                   COUNT(*) FILTER (WHERE create_date >= %(week)s),
                   COUNT(*) FILTER (WHERE create_date >= %(week)s AND state = 'done'),
                   COUNT(*) FILTER (WHERE create_date >= %(week)s
                                      AND state IN ('failed', 'waiting')),
                   COUNT(*) FILTER (WHERE state = 'pending'),
                   COUNT(*) FILTER (WHERE state IN ('pending', 'waiting', 'failed')
                                      AND create_date < %(delayed)s)
              FROM psa_event
             WHERE backend_id IN %(ids)s
               AND (create_date >= LEAST(%(today)s, %(week)s)
                    OR state IN ('pending', 'waiting', 'failed'))
             GROUP BY backend_id
            """,
            {"ids": ids, "today": today, "week": week, "delayed": now - DELAY_THRESHOLD},
        )
        events = {row[0]: row[1:] for row in cr.fetchall()}
        cr.execute(
            """
            SELECT backend_id, COUNT(*) FROM psa_exception
             WHERE backend_id IN %(ids)s AND category = 'remote_error'
               AND create_date >= %(since)s
             GROUP BY backend_id
            """,
            {"ids": ids, "since": now - timedelta(days=7)},
        )
        remote_errors_by_backend = dict(cr.fetchall())
        cr.execute(
            """
            SELECT backend_id, MIN(create_date) FROM psa_exception
             WHERE backend_id IN %(ids)s AND state IN ('open', 'retrying')
             GROUP BY backend_id
            """,
            {"ids": ids},
        )
        oldest = dict(cr.fetchall())
        cr.execute(
            """
            SELECT backend_id, COUNT(*) FROM psa_audit_log
             WHERE backend_id IN %(ids)s AND direction = 'out' AND create_date >= %(since)s
             GROUP BY backend_id
            """,
            {"ids": ids, "since": now - timedelta(days=7)},
        )
        outbound = dict(cr.fetchall())
        unbilled = self._dashboard_unbilled_hours()
        delayed = self._dashboard_delayed_postings()
        pulls = self._dashboard_pull_status()
        for backend in self:
            row = events.get(backend.id) or (0,) * 8
            remote_errors = remote_errors_by_backend.get(backend.id, 0)
            calls = outbound.get(backend.id, 0) + remote_errors
            backend.update(
                {
                    "dash_received_today": row[0],
                    "dash_applied_today": row[1],
                    "dash_failed_today": row[2],
                    "dash_received_week": row[3],
                    "dash_applied_week": row[4],
                    "dash_failed_week": row[5],
                    "dash_queue_depth": row[6],
                    "dash_delayed_postings": row[7] + delayed.get(backend.id, 0),
                    "dash_oldest_exception_date": oldest.get(backend.id, False),
                    "dash_unbilled_hours": unbilled.get(backend.id, 0.0),
                    "dash_has_unbilled_hours": backend.id in unbilled,
                    "dash_remote_error_rate": 100.0 * remote_errors / calls if calls else 0.0,
                    "dash_pull_status": pulls.get(backend.id)
                    or Markup('<p class="text-muted">%s</p>') % _("No pull has run yet."),
                }
            )

    def _dashboard_unbilled_hours(self):
        """{backend id: approved, unbilled hours}; the timesheet addon fills it."""
        return {}

    def _dashboard_delayed_postings(self):
        """{backend id: delayed postings beyond late inbound events}; addons add theirs."""
        return {}

    def _dashboard_pull_status(self):
        watermarks = (
            self.env["psa.sync.watermark"]
            .sudo()
            .search([("backend_id", "in", self.ids)], order="backend_id, object_type")
        )
        rows = {}
        for mark in watermarks:
            when = (
                fields.Datetime.context_timestamp(self, mark.last_success).strftime(
                    "%Y-%m-%d %H:%M"
                )
                if mark.last_success
                else _("never")
            )
            css = "text-danger" if mark.last_error else ""
            title = mark.last_error or ""
            rows[mark.backend_id.id] = rows.get(mark.backend_id.id, Markup("")) + Markup(
                '<tr class="%s" title="%s"><td>%s</td><td class="text-end">%s</td></tr>'
            ) % (css, title, mark.object_type, when)
        return {
            backend_id: Markup('<table class="table table-sm mb-0">%s</table>') % body
            for backend_id, body in rows.items()
        }

    # Dashboard actions ---------------------------------------------------------------

    @requires_group(USER)
    def action_dashboard_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_base.action_psa_exception"
        )
        action["context"] = {"search_default_backend_id": self.id, "search_default_filter_open": 1}
        return action

    @requires_group(USER)
    def action_dashboard_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_base.action_psa_event_stats"
        )
        action["context"] = {"search_default_backend_id": self.id}
        return action
