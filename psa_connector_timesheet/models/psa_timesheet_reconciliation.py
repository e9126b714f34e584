import json
import threading
from collections import defaultdict

from odoo import _, api, fields, models, sql_db
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
# Entries missing in Odoo written to the run's temporary table at once (about 450 bytes each).
MISSING_BATCH = 1000


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
            # Outside the savepoint: a snapshot is exported by the transaction itself.
            odoo_side = report._read_odoo_side_aside()
            try:
                with self.env.cr.savepoint(), workflow_write():
                    report._run(odoo_side)
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

    def _run(self, odoo_side=None):
        """Compare page by page, in memory that does not grow with the number of entries.

        Kept in Python: totals per project and day, and the differences themselves. The
        bindings of the lines the PSA listed go to a temporary table, so lines no longer
        approved in the PSA are found by one anti-join at the end, when there are any
        (fewer bindings seen than lines in the period); the entries missing in Odoo go to
        another and from there into the differences' ``missing_entries``
        (_store_missing_entries).
        ``odoo_side``: the callable of _read_odoo_side_aside, if any.
        The Odoo side, which does not depend on what the PSA lists (hours per project and
        day, number of lines, approved unbilled hours), is read while the pages are
        compared, on a connection of its own in the same snapshot, when it can
        (_read_odoo_side_aside): after the last page only what depends on it is left.
        """
        self.ensure_one()
        backend = self.backend_id
        self._flush_for_sql()
        psa_totals = defaultdict(float)
        psa_entry_count = 0
        cr = self.env.cr
        cr.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS psa_recon_seen (binding_id int) ON COMMIT DROP"
        )
        cr.execute("TRUNCATE psa_recon_seen")
        # The entries missing in Odoo wait in the database, not in this process: kept in
        # Python, even as JSON text, they pinned memory pages across the whole run (peak
        # growth 53 MB at a million entries with 2 % missing, 7 MB at 100,000), and read
        # back at the end to be written, the text was held three times at once (the
        # result set, its Python strings, the INSERT's query text: 42 MB at a million).
        cr.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS psa_recon_missing"
            " (seq serial, project text, day text, entry text) ON COMMIT DROP"
        )
        cr.execute("TRUNCATE psa_recon_missing")
        page_missing = []
        seen_count = 0
        adapter = backend._get_adapter()
        # The next page is fetched while this one is compared (tools/read_ahead.py).
        for page in read_ahead(
            adapter.iter_time_entries(self.date_from, self.date_to, backend._approved_time_states())
        ):
            in_odoo = self._entries_in_odoo([str(entry["id"]) for entry in page])
            seen_count += len(in_odoo)
            for entry in page:
                key = (str(entry["project_id"]), entry["date"])
                psa_entry_count += 1
                psa_totals[key] += float(entry.get("hours") or 0.0)
                if str(entry["id"]) not in in_odoo:
                    page_missing.append((*key, json.dumps(entry)))
            # A few per page (2 % of them here): written in batches, one statement less
            # per page, at most MISSING_BATCH entries' text held.
            if len(page_missing) >= MISSING_BATCH:
                self._keep_missing(page_missing)
                page_missing = []
        self._keep_missing(page_missing)
        missing = self._missing_counts()
        odoo_side = odoo_side() if odoo_side else self._read_odoo_side(self.env.cr)
        odoo_totals = odoo_side["totals"]
        # Every line of the period has one binding (unique per backend and record), and
        # one project binding at most: when as many different bindings were seen as there
        # are lines, none is left over, and the pass over the lines is not needed.
        all_seen = (
            seen_count >= odoo_side["line_count"]
            and self._seen_binding_count() == odoo_side["line_count"]
        )
        extra = {} if all_seen else self._lines_not_seen()
        lines = []
        # One lookup a PSA project, not one a difference (two queries each: 0.24 s for the
        # 120 differences of 3 projects at 100,000 entries).
        projects = {}
        for key in sorted(set(psa_totals) | set(odoo_totals)):
            psa, odoo = round(psa_totals.get(key, 0.0), 4), round(odoo_totals.get(key, 0.0), 4)
            if abs(psa - odoo) <= HOURS_TOLERANCE and not missing.get(key) and not extra.get(key):
                continue
            if key[0] not in projects:
                projects[key[0]] = self._psa_project(key[0])
            lines.append(
                self._line_values(
                    key,
                    psa,
                    odoo,
                    missing.get(key, 0),
                    extra.get(key, []),
                    project=projects[key[0]],
                )
            )
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
                "missing_entry_count": sum(missing.values()),
                "extra_line_count": sum(len(v) for v in extra.values()),
                "difference_count": len(lines),
                "approved_unbilled_hours": round(odoo_side["unbilled"], 4),
                "waiting_exception_count": len(waiting),
                "oldest_waiting_date": min(waiting.mapped("create_date"), default=False),
            }
        )
        self._store_missing_entries()

    def _psa_project(self, project_external_id):
        """The Odoo project bound to a PSA project id, or None."""
        return self.env["psa.binding"]._find_record(self.backend_id, "project", project_external_id)

    def _line_values(
        self, key, psa_hours, odoo_hours, missing_count, extra_line_ids, project=False
    ):
        """A difference's values; its ``missing_entries`` are written afterwards, in SQL
        (_store_missing_entries). ``project``: the bound project if already looked up
        (False: look it up here)."""
        project_ext, day = key
        if not odoo_hours and not extra_line_ids:
            kind = "missing_in_odoo"
        elif not psa_hours:
            kind = "extra_in_odoo"
        elif missing_count or extra_line_ids:
            kind = "entries_differ"
        else:
            kind = "hours_differ"
        if project is False:
            project = self._psa_project(project_ext)
        return {
            "project_external_id": project_ext,
            "project_id": project.id if project else False,
            "date": day,
            "psa_hours": psa_hours,
            "odoo_hours": odoo_hours,
            "kind": kind,
            "missing_count": missing_count,
            "extra_line_ids": [fields.Command.set(extra_line_ids)],
        }

    def _keep_missing(self, rows):
        """Rows (project external id, date, entry as JSON) of entries missing in Odoo, in
        the order the PSA listed them, into the run's temporary table."""
        if rows:
            self.env.cr.execute(
                "INSERT INTO psa_recon_missing (project, day, entry)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])",
                [list(column) for column in zip(*rows, strict=True)],
            )

    def _missing_counts(self):
        """{(project external id, date): number of entries the run found missing}."""
        self.env.cr.execute(
            "SELECT project, day, count(*) FROM psa_recon_missing GROUP BY project, day"
        )
        return {(p, d): n for p, d, n in self.env.cr.fetchall()}

    def _store_missing_entries(self):
        """Each difference's missing entries, as the JSON list json.dumps would write, in
        the order the run found them: copied in SQL from the run's temporary table, so
        that their text (450 bytes an entry) never passes through this process."""
        self.line_ids.flush_recordset()
        self.env.cr.execute(
            """
            UPDATE psa_timesheet_reconciliation_line line
               SET missing_entries = found.entries
              FROM (SELECT project, day::date AS day,
                           '[' || string_agg(entry, ', ' ORDER BY seq) || ']' AS entries
                      FROM psa_recon_missing GROUP BY project, day) found
             WHERE line.reconciliation_id = %s
               AND line.project_external_id = found.project AND line.date = found.day
            """,
            (self.id,),
        )
        self.line_ids.invalidate_recordset(["missing_entries"])

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

    def _entries_in_odoo(self, external_ids):
        """Which of these entry ids have a line in the period; their bindings are noted as
        seen (psa_recon_seen) in the same statement, for _lines_not_seen.

        The page's bindings and their lines are looked up first, by key (materialized),
        and only those few hundred rows are then checked against the period and the bound
        projects: left to itself the planner may start from the period's lines (the
        statistics put one row on the projects' side) and read every line of the period
        for each page, 0.5 s a page at 100,000 lines (a reconciliation of 100,000 entries
        took 76 s against 4.9 s for fetching), 15 s when it then scans the page for each
        of them; 13 ms a page this way (EXPLAIN ANALYZE).
        The ids are a set to join, not a list of constants: with ``= ANY(<array>)`` the
        planner estimates each of the 500 values against the column's statistics, 7-9 ms
        of planning a page (EXPLAIN), more than executing it; 0.7 ms this way.
        """
        self.env.cr.execute(
            """
            WITH page AS MATERIALIZED (
                SELECT tb.id, tb.external_id, l.project_id, l.date
                  FROM psa_binding tb
                  JOIN account_analytic_line l ON l.id = tb.res_id
                 WHERE tb.backend_id = %(backend)s AND tb.external_type = 'time_entry'
                   AND tb.external_id IN (SELECT unnest(%(ids)s::text[]))
                   AND tb.res_model = 'account.analytic.line'
            ), found AS MATERIALIZED (
                SELECT page.id, page.external_id
                  FROM page
                 WHERE page.date BETWEEN %(date_from)s AND %(date_to)s
                   AND page.project_id IN (
                        SELECT pb.res_id FROM psa_binding pb
                         WHERE pb.res_model = 'project.project' AND pb.backend_id = %(backend)s
                           AND pb.external_type = 'project')
            ), seen AS (
                INSERT INTO psa_recon_seen (binding_id) SELECT id FROM found
            )
            SELECT external_id FROM found
            """,
            self._period_params(ids=external_ids),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _seen_binding_count(self):
        """How many different bindings _entries_in_odoo saw (an entry the PSA listed
        twice, on two pages, is seen twice). One pass over the seen ids (0.07 s at
        300,000); unique during the run instead, the index cost 0.8 s more at 300,000."""
        self.env.cr.execute("SELECT count(DISTINCT binding_id) FROM psa_recon_seen")
        return self.env.cr.fetchone()[0]

    def _read_odoo_side_aside(self):
        """Start reading the Odoo side (_read_odoo_side) on a connection of its own, in
        this transaction's snapshot, while the pages are fetched and compared; a callable
        that waits for it and returns it. At the end the pass took 1.3 s of the 4.3 s of
        a reconciliation of 100,000 entries, while the main connection waited for pages
        (py-spy --idle); aside it takes none of the run's time but the CPU it uses.

        None when this transaction wrote already: a snapshot does not carry its writer's
        changes, the other connection would not see them; it is then read at the end.
        Called outside any savepoint (a subtransaction cannot export its snapshot).
        """
        self.ensure_one()
        self._flush_for_sql()
        cr = self.env.cr
        cr.execute("SELECT pg_current_xact_id_if_assigned() IS NULL")
        if not cr.fetchone()[0]:
            return None
        cr.execute("SELECT pg_export_snapshot()")
        snapshot = cr.fetchone()[0]
        params = self._period_params()
        outcome = {}

        def read():
            try:
                with sql_db.db_connect(cr.dbname).cursor() as other:
                    # The first statement of its (repeatable read) transaction.
                    other.execute("SET TRANSACTION SNAPSHOT %s", (snapshot,))
                    outcome["result"] = self._read_odoo_side(other, params)
            except Exception as err:  # raised in the caller, by the callable below
                outcome["error"] = err

        thread = threading.Thread(target=read, name="psa-recon-odoo-side", daemon=True)
        thread.start()

        def result():
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            return outcome["result"]

        return result

    def _read_odoo_side(self, cr, params=None):
        """The Odoo side of the period, in one pass over its lines: ``totals``
        {(project external id, date): hours} and ``line_count`` of the lines of the
        bound projects, ``unbilled`` the hours of the lines of PSA entries that are
        billable and not invoiced yet. Only ``cr`` is used (no ORM): it may run in
        another thread, on another connection (_read_odoo_side_aside)."""
        cr.execute(
            """
            SELECT pb.external_id, l.date::text,
                   SUM(l.unit_amount) FILTER (WHERE pb.id IS NOT NULL), count(pb.id),
                   SUM(l.unit_amount) FILTER (WHERE l.psa_billable
                       AND NOT COALESCE(l.psa_locked, false)
                       AND (m.id IS NULL OR m.state = 'cancel'))
              FROM account_analytic_line l
              JOIN psa_binding tb ON tb.res_model = 'account.analytic.line'
                                 AND tb.res_id = l.id AND tb.backend_id = %(backend)s
                                 AND tb.external_type = 'time_entry'
              LEFT JOIN psa_binding pb ON pb.res_model = 'project.project'
                                      AND pb.res_id = l.project_id
                                      AND pb.backend_id = %(backend)s
                                      AND pb.external_type = 'project'
              LEFT JOIN account_move m ON m.id = l.timesheet_invoice_id
             WHERE l.date BETWEEN %(date_from)s AND %(date_to)s
             GROUP BY pb.external_id, l.date
            """,
            params or self._period_params(),
        )
        result = {"totals": {}, "line_count": 0, "unbilled": 0.0}
        for project, date, hours, count, unbilled in cr.fetchall():
            if project is not None:
                result["totals"][(project, date)] = hours
                result["line_count"] += count
            result["unbilled"] += unbilled or 0.0
        return result

    def _lines_not_seen(self):
        """{(project external id, date): [line ids]} of the period's lines the PSA did not
        list (their binding not seen by _entries_in_odoo): one pass over the period's
        lines, after the pages."""
        # After a month-end import the bindings' statistics lag behind (autovacuum has not
        # analysed them yet: one row estimated where there are 100,000), and the planner
        # picks nested loops: quadratic over the seen bindings without an index (70 s+ at
        # 60,000 lines), 0.31 s at 100,000 with one (index, ANALYZE and an index probe a
        # line). One pass of hash joins over the period's lines and the seen bindings
        # does it in 0.13 s (EXPLAIN ANALYZE), for this statement only.
        cr = self.env.cr
        cr.execute("SELECT current_setting('enable_nestloop')")
        nestloop = cr.fetchone()[0]
        # (Should the statement fail, the rollback to the run's savepoint resets it.)
        cr.execute("SELECT set_config('enable_nestloop', 'off', true)")
        cr.execute(
            "SELECT pb.external_id, l.date::text, array_agg(l.id ORDER BY l.id)"
            + self._PERIOD_LINES
            + " AND NOT EXISTS (SELECT 1 FROM psa_recon_seen s WHERE s.binding_id = tb.id)"
            " GROUP BY pb.external_id, l.date",
            self._period_params(),
        )
        rows = cr.fetchall()
        cr.execute("SELECT set_config('enable_nestloop', %s, true)", [nestloop])
        return {(project, day): line_ids for project, day, line_ids in rows}

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
