import json
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.access import (
    MANAGER,
    USER,
    in_workflow,
    requires_group,
    workflow_write,
)
from odoo.addons.psa_connector_base.tools.errors import RemoteServiceError
from odoo.addons.psa_connector_base.tools.read_ahead import read_ahead

HOURS_TOLERANCE = 0.001


class PsaTimesheetReconciliation(models.Model):
    """The PSA's approved hours against Odoo's timesheet lines, per project and day."""

    _name = "psa.timesheet.reconciliation"
    _description = "PSA Connector Timesheet Reconciliation"
    _inherit = ["mail.thread", "psa.workflow.guard.mixin"]
    _order = "id desc"
    # The report's findings are the run's, not anyone's to edit: the re-import acts on them.
    _psa_workflow_fields = (
        "state",
        "run_date",
        "error_message",
        "line_ids",
        "psa_hours",
        "odoo_hours",
        "psa_entry_count",
        "missing_entry_count",
        "extra_line_count",
        "difference_count",
        "approved_unbilled_hours",
        "waiting_exception_count",
        "oldest_waiting_date",
    )

    name = fields.Char(compute="_compute_name", store=True)
    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)
    state = fields.Selection(
        [("draft", "Not run"), ("done", "Run"), ("failed", "Failed")],
        default="draft",
        required=True,
        tracking=True,
    )
    run_date = fields.Datetime(readonly=True)
    error_message = fields.Text(readonly=True)
    line_ids = fields.One2many("psa.timesheet.reconciliation.line", "reconciliation_id")
    psa_hours = fields.Float(string="Approved in the PSA", readonly=True)
    odoo_hours = fields.Float(string="Timesheets in Odoo", readonly=True)
    psa_entry_count = fields.Integer(string="Approved entries", readonly=True)
    missing_entry_count = fields.Integer(string="Entries missing in Odoo", readonly=True)
    extra_line_count = fields.Integer(string="Lines not approved in the PSA", readonly=True)
    difference_count = fields.Integer(string="Project-days that differ", readonly=True)
    approved_unbilled_hours = fields.Float(readonly=True)
    waiting_exception_count = fields.Integer(string="Entries in the exception queue", readonly=True)
    oldest_waiting_date = fields.Datetime(string="Oldest waiting since", readonly=True)

    @api.depends("backend_id", "date_from", "date_to")
    def _compute_name(self):
        for report in self:
            report.name = f"{report.backend_id.name or ''}: {report.date_from} to {report.date_to}"

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        if any(r.date_from > r.date_to for r in self):
            raise UserError(_("The period must start before it ends."))

    def write(self, vals):
        # The findings belong to the backend and period they were computed for: the
        # re-import reads that backend's PSA over that period.
        if (
            {"backend_id", "date_from", "date_to"} & set(vals)
            and not (self.env.su or in_workflow())
            and any(report.state != "draft" for report in self)
        ):
            raise UserError(
                _("A reconciliation that ran keeps its backend and period: create a new one.")
            )
        return super().write(vals)

    # Running ------------------------------------------------------------------------

    @requires_group(USER)
    def action_run(self):
        for report in self:
            try:
                with self.env.cr.savepoint(), workflow_write():
                    report._run()
            except RemoteServiceError as err:
                with workflow_write():
                    report.write(
                        {
                            "state": "failed",
                            "error_message": err.message,
                            "run_date": fields.Datetime.now(),
                        }
                    )
        return True

    def _run(self):
        """Compare page by page, in memory that does not grow with the number of entries.

        Kept in Python: totals per project and day, and the differences themselves. The
        PSA's ids go to a temporary table, so lines no longer approved in the PSA are
        found by one anti-join at the end.
        """
        self.ensure_one()
        backend = self.backend_id
        self._flush_for_sql()
        odoo_totals = self._odoo_totals()
        psa_totals = defaultdict(float)
        psa_entry_count = 0
        cr = self.env.cr
        cr.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS psa_recon_seen (external_id text) ON COMMIT DROP"
        )
        cr.execute("TRUNCATE psa_recon_seen")
        # The entries missing in Odoo wait in the database, not in this process: kept in
        # Python, even as JSON text, they pinned memory pages across the whole run (peak
        # growth 53 MB at a million entries with 2 % missing, 7 MB at 100,000).
        cr.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS psa_recon_missing"
            " (seq serial, project text, day text, entry text) ON COMMIT DROP"
        )
        cr.execute("TRUNCATE psa_recon_missing")
        adapter = backend._get_adapter()
        # The next page is fetched while this one is compared (tools/read_ahead.py).
        for page in read_ahead(
            adapter.iter_time_entries(self.date_from, self.date_to, backend._approved_time_states())
        ):
            page_ids = [str(entry["id"]) for entry in page]
            in_odoo = self._entries_in_odoo(page_ids)
            cr.execute(
                "INSERT INTO psa_recon_seen (external_id) SELECT unnest(%s::text[])", (page_ids,)
            )
            page_missing = []
            for entry in page:
                key = (str(entry["project_id"]), entry["date"])
                psa_entry_count += 1
                psa_totals[key] += float(entry.get("hours") or 0.0)
                if str(entry["id"]) not in in_odoo:
                    page_missing.append((*key, json.dumps(entry)))
            if page_missing:
                cr.execute(
                    "INSERT INTO psa_recon_missing (project, day, entry)"
                    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])",
                    [list(column) for column in zip(*page_missing, strict=True)],
                )
        missing = self._missing_by_key()
        extra = self._lines_not_seen()
        lines = []
        for key in sorted(set(psa_totals) | set(odoo_totals)):
            psa, odoo = round(psa_totals.get(key, 0.0), 4), round(odoo_totals.get(key, 0.0), 4)
            if abs(psa - odoo) <= HOURS_TOLERANCE and not missing.get(key) and not extra.get(key):
                continue
            lines.append(self._line_values(key, psa, odoo, missing.get(key), extra.get(key, [])))
        self.line_ids.unlink()
        waiting = self._waiting_exceptions()
        self.write(
            {
                "line_ids": [fields.Command.create(values) for values in lines],
                "state": "done",
                "run_date": fields.Datetime.now(),
                "error_message": False,
                "psa_hours": round(sum(psa_totals.values()), 4),
                "odoo_hours": round(sum(odoo_totals.values()), 4),
                "psa_entry_count": psa_entry_count,
                "missing_entry_count": sum(count for count, _text in missing.values()),
                "extra_line_count": sum(len(v) for v in extra.values()),
                "difference_count": len(lines),
                "approved_unbilled_hours": self._approved_unbilled_hours(),
                "waiting_exception_count": len(waiting),
                "oldest_waiting_date": min(waiting.mapped("create_date"), default=False),
            }
        )

    def _line_values(self, key, psa_hours, odoo_hours, missing_entries, extra_line_ids):
        project_ext, day = key
        if not odoo_hours and not extra_line_ids:
            kind = "missing_in_odoo"
        elif not psa_hours:
            kind = "extra_in_odoo"
        elif missing_entries or extra_line_ids:
            kind = "entries_differ"
        else:
            kind = "hours_differ"
        project = self.env["psa.binding"]._find_record(self.backend_id, "project", project_ext)
        return {
            "project_external_id": project_ext,
            "project_id": project.id if project else False,
            "date": day,
            "psa_hours": psa_hours,
            "odoo_hours": odoo_hours,
            "kind": kind,
            "missing_entries": missing_entries[1] if missing_entries else False,
            "missing_count": missing_entries[0] if missing_entries else 0,
            "extra_line_ids": [fields.Command.set(extra_line_ids)],
        }

    def _missing_by_key(self):
        """{(project external id, date): (count, JSON list of the entries)} of the entries
        the run found missing, in the order it found them; the list's text is what
        json.dumps would write for the entries."""
        self.env.cr.execute(
            """SELECT project, day, count(*), '[' || string_agg(entry, ', ' ORDER BY seq) || ']'
                 FROM psa_recon_missing GROUP BY project, day"""
        )
        return {(p, d): (n, text) for p, d, n, text in self.env.cr.fetchall()}

    def _flush_for_sql(self):
        self.env["account.analytic.line"].flush_model()
        self.env["psa.binding"].flush_model()

    # The period's lines of this backend, with their entry id and PSA project id.
    _PERIOD_LINES = """
        FROM account_analytic_line l
        JOIN psa_binding tb ON tb.res_model = 'account.analytic.line' AND tb.res_id = l.id
                           AND tb.backend_id = %(backend)s AND tb.external_type = 'time_entry'
        JOIN psa_binding pb ON pb.res_model = 'project.project' AND pb.res_id = l.project_id
                           AND pb.backend_id = %(backend)s AND pb.external_type = 'project'
       WHERE l.date BETWEEN %(date_from)s AND %(date_to)s
    """

    def _period_params(self, **extra):
        return {
            "backend": self.backend_id.id,
            "date_from": self.date_from,
            "date_to": self.date_to,
            **extra,
        }

    def _odoo_totals(self):
        """{(project external id, date): hours} of the period's lines, one query."""
        self.env.cr.execute(
            "SELECT pb.external_id, l.date::text, SUM(l.unit_amount)"
            + self._PERIOD_LINES
            + " GROUP BY pb.external_id, l.date",
            self._period_params(),
        )
        return defaultdict(float, {(p, d): h for p, d, h in self.env.cr.fetchall()})

    def _entries_in_odoo(self, external_ids):
        """Which of these entry ids have a line in the period.

        The page's bindings are looked up first, by their unique key, then their lines by
        id: left to itself the planner may start from the period's lines instead (the
        bindings' statistics put only one row on the projects' side) and read every line
        of the period for each page, 0.3-0.5 s a page at 100,000 lines (a reconciliation
        of 100,000 entries took 76 s against 4.9 s for fetching; 8 ms a page this way).
        """
        self.env.cr.execute(
            """
            WITH page AS MATERIALIZED (
                SELECT tb.external_id, tb.res_id
                  FROM psa_binding tb
                 WHERE tb.backend_id = %(backend)s AND tb.external_type = 'time_entry'
                   AND tb.external_id = ANY(%(ids)s)
                   AND tb.res_model = 'account.analytic.line'
            )
            SELECT page.external_id
              FROM page
              JOIN account_analytic_line l ON l.id = page.res_id
              JOIN psa_binding pb ON pb.res_model = 'project.project' AND pb.res_id = l.project_id
                                 AND pb.backend_id = %(backend)s AND pb.external_type = 'project'
             WHERE l.date BETWEEN %(date_from)s AND %(date_to)s
            """,
            self._period_params(ids=external_ids),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _lines_not_seen(self):
        """{(project external id, date): [line ids]} of lines the PSA did not list."""
        # After a month-end import the bindings' statistics lag behind (autovacuum has not
        # analysed them yet), and the planner picks a nested-loop anti-join: without an
        # index on the seen ids that is quadratic (70 s+ at 60,000 lines; 0.5 s with it).
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS psa_recon_seen_external_id ON psa_recon_seen (external_id)"
        )
        self.env.cr.execute("ANALYZE psa_recon_seen")
        self.env.cr.execute(
            "SELECT pb.external_id, l.date::text, l.id"
            + self._PERIOD_LINES
            + " AND NOT EXISTS (SELECT 1 FROM psa_recon_seen s"
            " WHERE s.external_id = tb.external_id)",
            self._period_params(),
        )
        extra = defaultdict(list)
        for project, day, line_id in self.env.cr.fetchall():
            extra[(project, day)].append(line_id)
        return extra

    def _approved_unbilled_hours(self):
        self.env.cr.execute(
            """
            SELECT COALESCE(SUM(l.unit_amount), 0)
              FROM account_analytic_line l
              JOIN psa_binding tb ON tb.res_model = 'account.analytic.line' AND tb.res_id = l.id
                                 AND tb.backend_id = %s AND tb.external_type = 'time_entry'
              LEFT JOIN account_move m ON m.id = l.timesheet_invoice_id
             WHERE l.date BETWEEN %s AND %s AND l.psa_billable
               AND NOT COALESCE(l.psa_locked, false)
               AND (m.id IS NULL OR m.state = 'cancel')
            """,
            (self.backend_id.id, self.date_from, self.date_to),
        )
        return self.env.cr.fetchone()[0]

    def _waiting_exceptions(self):
        return self.env["psa.exception"].search(
            [
                ("backend_id", "=", self.backend_id.id),
                ("object_type", "=", "time_entry"),
                ("state", "in", ("open", "retrying")),
            ]
        )

    # Fixing -------------------------------------------------------------------------

    def _missing_external_ids(self):
        """Ids of the PSA entries the last run found missing in Odoo."""
        self.ensure_one()
        return {
            str(entry["id"])
            for line in self.line_ids
            if line.missing_entries
            for entry in json.loads(line.missing_entries)
        }

    @requires_group(MANAGER)
    def action_reimport_missing(self):
        """Queue the missing entries through the normal path, then they land once.

        The entries are read again from the PSA, by the ids the run found missing: what
        is imported (as approved time, by the superuser's jobs) is what the PSA says now,
        never text stored in Odoo.
        """
        self.ensure_one()
        wanted = self._missing_external_ids()
        if not wanted:
            raise UserError(_("No entry is missing in Odoo for this period."))
        backend = self.backend_id
        try:
            entries = [
                entry
                for page in backend._get_adapter().iter_time_entries(
                    self.date_from, self.date_to, backend._approved_time_states()
                )
                for entry in page
                if str(entry.get("id")) in wanted
            ]
        except RemoteServiceError as err:
            raise UserError(err.message) from None
        if not entries:
            raise UserError(
                _("The PSA no longer lists the missing entries as approved: run the report again.")
            )
        new_events, retried = self.env["psa.event"]._requeue_pulled(
            self.backend_id, "time_entry", entries
        )
        self.message_post(
            body=_(
                "Re-import of %(count)s missing entries queued (%(new)s new, %(retried)s retried).",
                count=len(entries),
                new=len(new_events),
                retried=len(retried),
            )
        )
        return True
