import json
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from odoo.addons.psa_connector_base.tools.access import workflow_write
from odoo.addons.psa_connector_base.tools.jobs import execute_racing

# Rows per POST: a nightly batch of a large company is several requests, not one huge one.
CHUNK_ROWS = 500


class PsaForecastPush(models.Model):
    """Push state of one project's actuals towards one forecasting backend.

    It debounces the push: a timesheet change marks the row dirty and queues a push
    job only when none is queued yet; the job reads the totals when it runs, so many
    changes make one push. queue_job's identity key alone cannot do this, as it does
    not see jobs already started.
    """

    _name = "psa.forecast.push"
    _description = "PSA Actuals Push State"
    _order = "backend_id, project_id"
    _rec_name = "project_id"
    _inherit = ["psa.workflow.guard.mixin"]
    # The debounce flags and push results belong to the push jobs.
    _psa_workflow_fields = (
        "backend_id",
        "project_id",
        "dirty",
        "job_pending",
        "dirty_since",
        "last_push_date",
        "last_pushed_weeks",
        "last_result",
        "push_count",
    )

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    project_id = fields.Many2one("project.project", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    dirty = fields.Boolean(
        readonly=True, help="Timesheets changed since the last push job read the totals."
    )
    job_pending = fields.Boolean(readonly=True, help="A push job is queued and not started yet.")
    dirty_since = fields.Datetime(readonly=True)
    last_push_date = fields.Datetime(readonly=True)
    last_pushed_weeks = fields.Text(
        readonly=True,
        help="ISO weeks (their Mondays) last sent; a week that lost all its lines is sent "
        "again with zero hours, so the forecasting tool does not keep a stale figure.",
    )
    last_result = fields.Char(readonly=True)
    push_count = fields.Integer(readonly=True)

    _sql_constraints = [
        ("backend_project_unique", "unique(backend_id, project_id)", "One state per project."),
    ]

    # Marking ----------------------------------------------------------------------------

    @api.model
    def _forecast_backends(self, companies):
        # sudo: asked on behalf of whoever changed timesheets (who may not read backends)
        # and of the root cron; a fixed domain, and nothing is written here.
        return (
            self.env["psa.backend"]
            .sudo()
            .search(
                [
                    ("kind", "=", "forecast"),
                    ("base_url", "!=", False),
                    ("company_id", "in", companies.ids),
                ]
            )
        )

    @api.model
    def _mark_dirty(self, project_ids):
        """Mark projects dirty for every forecasting backend; queue a push if none is.

        Runs before commit, in the transaction that changed the timesheets, once per
        transaction. A clean row is written (dirty, job pending) and a push queued. A
        row already dirty with a job pending is only locked until commit (so that job
        cannot clear it before these changes are visible) and not written, so that
        concurrent imports on one project do not collide on it. If it is locked
        already, a push job is running now and may not see these changes: the next
        push is queued (the identity key keeps that to one pending job).
        """
        # sudo: runs in the transaction of whoever changed the timesheets, for projects
        # they may not read; it writes only push-state rows, the push runs as the
        # backend company's integration user.
        projects = self.env["project.project"].sudo().browse(list(project_ids)).exists()
        if not projects:
            return self
        companies = projects.company_id
        if not all(projects.mapped("company_id")):
            # A project shared between companies reports to every company's tool.
            companies = self.env["res.company"].sudo().search([])
        backends = self._forecast_backends(companies)
        pairs = [
            (backend, project)
            for backend in backends
            for project in projects
            if not project.company_id or project.company_id == backend.company_id
        ]
        if not pairs:
            return self
        self.flush_model()
        self.env.cr.execute(
            """SELECT id, backend_id, project_id FROM psa_forecast_push
                WHERE dirty AND job_pending AND (backend_id, project_id) IN %s""",
            [tuple((b.id, p.id) for b, p in pairs)],
        )
        queued = {(b, p): state_id for state_id, b, p in self.env.cr.fetchall()}
        follow_ups = []
        if queued:
            # A row a push committed after this snapshot fails to serialize: the job is
            # run again by queue_job (see _push_job).
            execute_racing(
                self.env.cr,
                """SELECT id FROM psa_forecast_push WHERE id IN %s
                   FOR NO KEY UPDATE SKIP LOCKED""",
                [tuple(queued.values())],
            )
            locked = {row[0] for row in self.env.cr.fetchall()}
            follow_ups = [state_id for state_id in queued.values() if state_id not in locked]
        ids = []
        for backend, project in pairs:
            if (backend.id, project.id) in queued:
                continue
            execute_racing(
                self.env.cr,
                """INSERT INTO psa_forecast_push (backend_id, project_id, company_id, dirty,
                           job_pending, dirty_since, push_count, create_uid, create_date,
                           write_uid, write_date)
                   VALUES (%(backend)s, %(project)s, %(company)s, TRUE, TRUE, %(now)s, 0,
                           %(uid)s, %(now)s, %(uid)s, %(now)s)
                   ON CONFLICT (backend_id, project_id) DO UPDATE
                      SET dirty = TRUE, job_pending = TRUE, write_date = %(now)s,
                          dirty_since = COALESCE(psa_forecast_push.dirty_since, %(now)s)
                   RETURNING id""",
                {
                    "backend": backend.id,
                    "project": project.id,
                    "company": backend.company_id.id,
                    "now": self.env.cr.now(),
                    "uid": self.env.uid,
                },
            )
            ids.append(self.env.cr.fetchone()[0])
        states = self.browse(ids + follow_ups)
        states.invalidate_recordset()
        for state in states:
            state._enqueue_push()
        # Precommit hooks run after the ORM flush: flush what the enqueueing wrote.
        self.env.flush_all()
        return states

    def _enqueue_push(self):
        self.ensure_one()
        integration_backend = self.backend_id._as_integration_user()
        self.with_env(integration_backend.env).with_delay(
            priority=70,
            description=f"Push actuals of {self.project_id.display_name} to {self.backend_id.name}",
            identity_key=f"psa.forecast.push:{self.backend_id.id}:{self.project_id.id}",
        )._push_job()

    # Pushing -----------------------------------------------------------------------------

    def _push_job(self):
        """Clear the flags, then read the totals and push them.

        The UPDATE comes first and keeps the row locked until this job commits: a
        transaction changing timesheets meanwhile finds it locked and queues the next
        push (see ``_mark_dirty``); one that wrote the row after this job's snapshot
        makes the UPDATE fail to serialise, and queue_job retries the job with fresh
        totals. A push that fails and will be retried rolls the flags back with
        everything else.
        """
        self.ensure_one()
        self.env.cr.execute(
            """UPDATE psa_forecast_push SET dirty = FALSE, job_pending = FALSE,
                      dirty_since = NULL WHERE id = %s""",
            [self.id],
        )
        self.invalidate_recordset(["dirty", "job_pending", "dirty_since"])
        return self._push()

    @api.model
    def _enqueue_push_all(self, backend):
        backend._as_integration_user().with_delay(
            priority=80,
            description=f"Push actuals of all active projects to {backend.name}",
            identity_key=f"psa.forecast.push_all:{backend.id}",
        )._psa_push_all_actuals_job()

    @api.model
    def _cron_push_all(self):
        """Nightly: re-send every active project's totals, healing any lost push."""
        for backend in self._forecast_backends(self.env["res.company"].sudo().search([])):
            self._enqueue_push_all(backend)

    @api.model
    def _states_for_all(self, backend):
        """The state rows of every active project of the backend's company that the
        forecasting tool can know (one with a canonical external id), created if new."""
        projects = self.env["project.project"].search(
            ["|", ("company_id", "=", False), ("company_id", "=", backend.company_id.id)]
        )
        known = self._project_external_ids(backend, projects)
        projects = projects.filtered(lambda p: p.id in known)
        states = self.search([("backend_id", "=", backend.id), ("project_id", "in", projects.ids)])
        missing = projects - states.project_id
        return states | self.create(
            [{"backend_id": backend.id, "project_id": project.id} for project in missing]
        )

    def _push(self):
        with workflow_write():
            return "; ".join(
                states._push_to(backend) for backend, states in self.grouped("backend_id").items()
            )

    def _push_to(self, backend):
        external_ids = self._project_external_ids(backend, self.project_id)
        unknown = self.filtered(lambda s: s.project_id.id not in external_ids)
        unknown.write({"last_result": _("not sent: the project has no canonical id")})
        states = self - unknown
        if not states:
            return _("nothing to send")
        actuals = self._weekly_actuals(states.project_id)
        rows_by_state = {
            state: state._rows(
                external_ids[state.project_id.id], actuals.get(state.project_id.id, {})
            )
            for state in states
        }
        rows = [row for state_rows in rows_by_state.values() for row in state_rows]
        what = (
            _("push of actuals of %s", states.project_id.display_name)
            if len(states) == 1
            else _("push of actuals of %s projects", len(states))
        )
        external_id = external_ids[states.project_id.id] if len(states) == 1 else None

        def send(adapter):
            for start in range(0, len(rows), CHUNK_ROWS):
                adapter.push_actuals(rows[start : start + CHUNK_ROWS])

        _result, failure = backend._run_remote(
            what,
            send,
            object_type="actuals",
            external_id=external_id,
            payload=json.dumps({"data": rows[:CHUNK_ROWS]}),
            on_remote_error=lambda err: states.write({"last_result": err.message}),
            audit={
                "operation": "push",
                "res_model": "project.project" if len(states) == 1 else None,
                "res_id": states.project_id.id if len(states) == 1 else None,
                "message": _(
                    "%(rows)s week row(s) of %(projects)s project(s) sent",
                    rows=len(rows),
                    projects=len(states),
                ),
            },
        )
        if failure:
            return failure
        now = fields.Datetime.now()
        for state, state_rows in rows_by_state.items():
            state.write(
                {
                    "last_push_date": now,
                    "last_pushed_weeks": json.dumps(
                        sorted(r["week_start"] for r in state_rows if r["hours"])
                    ),
                    "last_result": _("%s week(s) sent", len(state_rows)),
                    "push_count": state.push_count + 1,
                }
            )
        return _(
            "%(rows)s row(s) of %(projects)s project(s) sent", rows=len(rows), projects=len(states)
        )

    def _rows(self, project_external_id, weeks):
        """The canonical actuals rows (schemas/actuals.json) of this state's project."""
        self.ensure_one()
        project = self.project_id
        previously = set(json.loads(self.last_pushed_weeks or "[]"))
        effective = round(sum(hours for hours, _billable in weeks.values()), 2)
        budget = project.allocated_hours or 0.0
        remaining = round(budget - effective, 2) if budget else None
        consumed = round(100.0 * effective / budget, 2) if budget else None
        rows = []
        for week_start in sorted(set(weeks) | {fields.Date.to_date(w) for w in previously}):
            hours, billable = weeks.get(week_start, (0.0, 0.0))
            iso_year, iso_week, _day = week_start.isocalendar()
            rows.append(
                {
                    "project_id": project_external_id,
                    "odoo_project_id": project.id,
                    "week": f"{iso_year}-W{iso_week:02d}",
                    "week_start": str(week_start),
                    "week_end": str(week_start + timedelta(days=6)),
                    "hours": round(hours, 2),
                    "billable_hours": round(billable, 2),
                    "budget_hours": budget or None,
                    "effective_hours": effective,
                    "remaining_hours": remaining,
                    "budget_consumed_pct": consumed,
                }
            )
        return rows

    @api.model
    def _weekly_actuals(self, projects):
        """{project id: {week Monday: (hours, billable hours)}}: every analytic line of
        the projects, whatever created it (PSA, Odoo timesheets, imports)."""
        self.env["account.analytic.line"].flush_model(
            ["project_id", "date", "unit_amount", "psa_billable", "employee_id"]
        )
        self.env.cr.execute(
            SQL(
                """SELECT l.project_id, date_trunc('week', l.date)::date, SUM(l.unit_amount),
                          COALESCE(SUM(l.unit_amount) FILTER (WHERE %s), 0)
                     FROM account_analytic_line l
                    WHERE l.project_id = ANY(%s)
                    GROUP BY 1, 2""",
                self._billable_line_sql(),
                projects.ids,
            )
        )
        result = {}
        for project_id, week_start, hours, billable in self.env.cr.fetchall():
            result.setdefault(project_id, {})[week_start] = (hours or 0.0, billable or 0.0)
        return result

    @api.model
    def _billable_line_sql(self):
        """When an analytic line ``l`` counts as billable in the pushed actuals: its own
        flag here; psa_connector_forecast_hr adds the employee's billability."""
        return SQL("l.psa_billable")

    @api.model
    def _project_external_ids(self, backend, projects):
        """{project id: canonical id}: the backend's own binding first, else one of
        another backend of the company (the PSA the projects come from)."""
        bindings = self.env["psa.binding"].search(
            [
                ("company_id", "=", backend.company_id.id),
                ("external_type", "=", "project"),
                ("res_model", "=", "project.project"),
                ("res_id", "in", projects.ids),
            ],
            order="id",
        )
        result = {}
        for binding in bindings.sorted(lambda b: b.backend_id != backend):
            result.setdefault(binding.res_id, binding.external_id)
        return result
