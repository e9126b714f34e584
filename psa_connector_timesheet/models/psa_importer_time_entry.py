import json
import logging

from odoo import _, models

from odoo.addons.psa_connector_base.tools.errors import (
    AmbiguousMatch,
    MissingReference,
    PayloadInvalid,
    SyncConflict,
)
from odoo.addons.psa_connector_base.tools.schema import load_schema, validate

_logger = logging.getLogger(__name__)

# Below this many events a chunk is applied one by one; above, new lines go in batches.
# Low: a steady stream of webhooks (20 a second, `make bench`) makes chunks of about ten
# events every half second, which one by one took about as long as the half second in
# the time entries' channel of capacity 1, so waiting chunks queued up behind each other
# (single-change latency p99 over 3 s); batched they take a fraction of it.
BATCH_THRESHOLD = 5


class PsaImporterTimeEntry(models.AbstractModel):
    """Approved time → timesheet lines (account.analytic.line), exactly once.

    A line that is invoiced or locked is never changed from outside: an update, an
    un-approval or a deletion of its entry raises a conflict for finance instead.
    """

    _name = "psa.importer.time_entry"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Time Entries"
    _psa_object_type = "time_entry"
    _psa_odoo_model = "account.analytic.line"
    _psa_priority = 40
    _psa_write_back = False
    # Chunks of one project's time all update the same tasks' stored hours: two at once
    # fail each other with serialization errors and redo whole chunks. One at a time is
    # faster (measured: 342 vs 260 entries/s); deployments give this channel capacity 1.
    _psa_channel = "root.psa.time_entry"
    # Lanes by project (psa_connector_base.lanes.time_entry): a project's lines touch only
    # its own tasks and sale lines, so two projects' chunks can apply side by side.
    _psa_lane_from = ("project", "project_id")
    # In the project's company (entity routing, psa.importer._target_company).
    _psa_company_from = (("project", "project_id"),)

    def _action_for(self, backend, action, data):
        if action != "deleted" and data.get("state") not in backend._approved_time_states():
            # Submitted, rejected or un-approved: there must be no line for it.
            return "deleted"
        return super()._action_for(backend, action, data)

    def _map_values(self, backend, data):
        employee = self._resolve_employee(backend, data)
        project = self._resolve(backend, "project", data["project_id"])
        task = self.env["project.task"]
        if data.get("task_id"):
            task = self._resolve(backend, "task", data["task_id"])
        return self._line_values(data, employee, project, task)

    def _line_values(self, data, employee, project, task):
        if task and task.project_id != project:
            raise PayloadInvalid(
                _(
                    "Task %(task)s does not belong to project %(project)s.",
                    task=data.get("task_id"),
                    project=data.get("project_id"),
                )
            )
        billable = bool(data.get("billable", True))
        values = {
            "name": data.get("description") or "/",
            "date": data["date"],
            "unit_amount": data["hours"],
            "employee_id": employee.id,
            "project_id": project.id,
            "task_id": task.id or False,
            "psa_billable": billable,
        }
        if not billable:
            # sale_timesheet would otherwise attach the line to the project's sale line.
            values.update(so_line=False, is_so_line_edited=True)
        return values

    # Employees ----------------------------------------------------------------------

    def _resolve_employee(self, backend, data):
        """Through employee bindings (any backend of the company), else by work e-mail."""
        external_id = data.get("employee_id")
        if external_id:
            employee = self._employees_by_binding(backend, [str(external_id)]).get(str(external_id))
            if employee:
                return employee
        email = (data.get("employee_email") or "").strip().lower()
        if backend.employee_match_key == "work_email" and email:
            matches = self._employees_by_email(backend, [email]).get(email)
            if matches and len(matches) > 1:
                raise AmbiguousMatch(
                    _(
                        "%(count)s employees share the work e-mail %(email)s: %(names)s.",
                        count=len(matches),
                        email=email,
                        names=", ".join(matches.mapped("name")),
                    )
                )
            if matches:
                return matches
        error = MissingReference(
            "employee",
            str(external_id or email),
            message=_(
                "Waiting for employee %(who)s, who is not in Odoo yet (no employee binding "
                "and no employee with that work e-mail). Retried automatically when the "
                "employee arrives.",
                who=" / ".join(str(v) for v in (external_id, email) if v),
            ),
        )
        error.exception_values = {"waiting_email": email or False}
        raise error

    def _employees_by_binding(self, backend, external_ids):
        bindings = self.env["psa.binding"].search(
            [
                ("external_type", "=", "employee"),
                ("external_id", "in", external_ids),
                ("company_id", "=", backend.company_id.id),
                ("res_model", "=", "hr.employee"),
            ]
        )
        employees = self.env["hr.employee"].browse(bindings.mapped("res_id")).exists()
        return {
            b.external_id: employees.filtered(lambda e, b=b: e.id == b.res_id)
            for b in bindings
            if b.res_id in employees.ids
        }

    def _employees_by_email(self, backend, emails):
        """{lower-case e-mail: employees} for active employees of the company the entries
        land in (the project's, see _target_company; the backend's in the batch path)."""
        self.env["hr.employee"].flush_model(["work_email", "company_id", "active"])
        self.env.cr.execute(
            """SELECT lower(trim(work_email)), id FROM hr_employee
                WHERE active AND lower(trim(work_email)) = ANY(%s)
                  AND (company_id = %s OR company_id IS NULL)""",
            ([e.lower() for e in emails], self.env.company.id),
        )
        result = {}
        for email, employee_id in self.env.cr.fetchall():
            result[email] = result.get(email, self.env["hr.employee"]) | self.env[
                "hr.employee"
            ].browse(employee_id)
        return result

    # Billed lines are finance's ---------------------------------------------------------

    def _apply_update(self, event, binding, record, values, data):
        if not record._psa_is_billed():
            return super()._apply_update(event, binding, record, values, data)
        current = self._comparable_values(record, values)
        incoming = self._comparable_values(record, values, use=values)
        changed = sorted(name for name in values if incoming[name] != current[name])
        if not changed:
            return _("unchanged; the line is billed")
        raise self._billed_conflict(
            record,
            _("was changed in %(backend)s", backend=event.backend_id.name),
            incoming={name: incoming[name] for name in changed},
            current={name: current[name] for name in changed},
        )

    def _apply_delete(self, event, binding, record, external_id):
        if not record:
            return "skipped", _("not approved; no timesheet line exists")
        if record._psa_is_billed():
            raise self._billed_conflict(
                record,
                _("was un-approved or deleted in %(backend)s", backend=event.backend_id.name),
                incoming={"state": "not approved"},
                current={"unit_amount": record.unit_amount, "date": str(record.date)},
            )
        values = {"unit_amount": record.unit_amount, "date": str(record.date)}
        self._audit(event, "delete", external_id, record, values=values)
        record.unlink()
        return "done", _("timesheet line removed: the entry is no longer approved")

    def _billed_conflict(self, line, what, incoming, current):
        reference = line.timesheet_invoice_id.name or _("locked by finance")
        error = SyncConflict(
            _(
                "Time entry for %(employee)s on %(date)s %(what)s, but its timesheet line is "
                "billed (%(reference)s) and was left as it is. Correct it with a credit note or "
                "in the remote system, then ignore or retry this exception.",
                employee=line.employee_id.name,
                date=line.date,
                what=what,
                reference=reference,
            ),
            incoming=incoming,
            current=current,
        )
        error.details.update(res_model=line._name, res_id=line.id)
        return error

    # Month-end volumes ------------------------------------------------------------------

    def _import_events(self, events):
        """New approved entries of a chunk are created in one batch; the rest one by one.

        Per-entry outcomes are kept: anything the batch cannot take (updates, removals,
        missing references, invalid payloads, events retried after an exception) goes
        through the one-by-one path, and if the batch itself fails, all of it does.
        """
        backend = events.backend_id
        if len(events) < BATCH_THRESHOLD or len(backend) != 1:
            return super()._import_events(events)
        self = self.with_company(backend.company_id)
        batch = self._batchable(backend, events)
        outcomes = []
        if batch:
            try:
                with self.env.cr.savepoint():
                    outcomes = self._create_batch(backend, batch)
            except Exception:
                # Not fatal: every entry of the batch goes the one-by-one way below and
                # gets its own outcome (or exception). But say why, or a batch path that
                # always fails would only show as a slow month-end.
                _logger.warning(
                    "Batch of %s time entries failed, applying them one by one",
                    len(batch),
                    exc_info=True,
                )
                outcomes = []
                batch = []
        batched_events = {event for event, _data, _values in batch}
        rest = events.filtered(lambda e: e not in batched_events)
        return outcomes + super()._import_events(rest)

    def _batchable(self, backend, events):
        """(event, data, line values) of new, approved, valid, fully resolvable entries."""
        approved = backend._approved_time_states()
        schema = load_schema(self._psa_object_type)
        parsed = []
        for event in self._batch_candidates(events):
            try:
                data = event._envelope()["data"]
            except PayloadInvalid:
                continue
            if data.get("state") in approved and not validate(data, schema):
                parsed.append((event, data))
        if not parsed:
            return []
        external_ids = [str(data["id"]) for _event, data in parsed]
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(key)) FROM unnest(%s::text[]) key",
            (backend.id, [f"{self._psa_object_type}:{i}" for i in sorted(external_ids)]),
        )
        bound = set(
            self.env["psa.binding"]
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("external_type", "=", self._psa_object_type),
                    ("external_id", "in", external_ids),
                ]
            )
            .mapped("external_id")
        )
        projects = self._records_by_binding(
            backend, "project", {d["project_id"] for _e, d in parsed}
        )
        tasks = self._records_by_binding(
            backend, "task", {d["task_id"] for _e, d in parsed if d.get("task_id")}
        )
        employees = self._employees_by_binding(
            backend, list({str(d["employee_id"]) for _e, d in parsed if d.get("employee_id")})
        )
        emails = list({(d.get("employee_email") or "").strip().lower() for _e, d in parsed} - {""})
        by_email = (
            self._employees_by_email(backend, emails)
            if emails and backend.employee_match_key == "work_email"
            else {}
        )
        # Whether a (project, task) pair can be batched, decided once per pair: a chunk
        # names a few projects and tasks thousands of times.
        fits = {}
        batch, batched_ids = [], set()
        for event, data in parsed:
            if str(data["id"]) in bound or str(data["id"]) in batched_ids:
                continue
            project = projects.get(str(data["project_id"]))
            task = tasks.get(str(data.get("task_id"))) if data.get("task_id") else None
            employee = employees.get(str(data.get("employee_id")))
            if not employee:
                matches = by_email.get((data.get("employee_email") or "").strip().lower())
                employee = matches if matches and len(matches) == 1 else None
            if not project or not employee or (data.get("task_id") and not task):
                continue
            pair = (project.id, task.id if task else None)
            if pair not in fits:
                # A task of another project, or a project routed to another company
                # (legal entity), goes the one-by-one way: that path applies it in that
                # company or says what is wrong.
                fits[pair] = (
                    not task or task.project_id == project
                ) and project.company_id == backend.company_id
            if not fits[pair]:
                continue
            values = self._line_values(data, employee, project, task or self.env["project.task"])
            batch.append((event, data, values))
            batched_ids.add(str(data["id"]))
        return batch

    def _batch_candidates(self, events):
        """The events a batch may take: pending, not a deletion, and never failed before
        (an event with an exception is retried one by one, so that its exception is
        resolved). One query for the chunk instead of three fields read per event."""
        events.flush_recordset(["state", "action"])
        self.env["psa.exception"].flush_model(["event_id"])
        self.env.cr.execute(
            """SELECT e.id FROM psa_event e
                WHERE e.id = ANY(%s) AND e.state = 'pending'
                  AND e.action IS DISTINCT FROM 'deleted'
                  AND NOT EXISTS (SELECT 1 FROM psa_exception x WHERE x.event_id = e.id)""",
            [events.ids],
        )
        candidates = {row[0] for row in self.env.cr.fetchall()}
        return events.filtered(lambda event: event.id in candidates)

    def _check_batch_company(self, backend, vals_list):
        """Every employee, project and task of the batch is in the backend's company."""
        company = backend.company_id
        for field, model in (
            ("employee_id", "hr.employee"),
            ("project_id", "project.project"),
            ("task_id", "project.task"),
        ):
            ids = {values[field] for values in vals_list if values.get(field)}
            records = self.env[model].sudo().browse(ids)
            foreign = records.filtered(lambda r, c=company: r.company_id and r.company_id != c)
            if foreign:
                raise SyncConflict(
                    _(
                        "%(model)s %(ids)s belong to another company than the backend's.",
                        model=model,
                        ids=foreign.ids,
                    )
                )

    def _records_by_binding(self, backend, object_type, external_ids):
        bindings = self.env["psa.binding"].search(
            [
                ("backend_id", "=", backend.id),
                ("external_type", "=", object_type),
                ("external_id", "in", [str(i) for i in external_ids]),
            ]
        )
        model = "project.project" if object_type == "project" else "project.task"
        records = self.env[model].browse(bindings.mapped("res_id")).exists()
        return {
            b.external_id: records.browse(b.res_id) for b in bindings if b.res_id in records.ids
        }

    def _create_batch(self, backend, batch):
        vals_list = [values for _e, _d, values in batch]
        self._check_batch_company(backend, vals_list)
        # sudo, narrowly: the model and the fields are this method's, and every record
        # the values name was resolved through this backend's own bindings and checked
        # to be in its company just above. What sudo skips is the ORM's re-check of the
        # record rules on each new line, evaluated in Python line by line in Odoo 18
        # (about a tenth of a month-end ingest, `make bench`). uid stays the integration
        # user: the lines' create_uid names it.
        lines = self.env["account.analytic.line"].sudo().create(vals_list).sudo(False)
        binding_rows, audit_rows = [], []
        now = self.env.cr.now()
        # Translated once for the batch, not once per row.
        message = _("created in a batch of %s", len(batch))
        for (event, data, values), line in zip(batch, lines, strict=True):
            binding_rows.append(
                {
                    "backend_id": backend.id,
                    "external_type": self._psa_object_type,
                    "external_id": str(data["id"]),
                    "res_model": line._name,
                    "res_id": line.id,
                    **self._binding_version_values(data),
                    "synced_values": json.dumps(self._comparable_values(line, values), default=str),
                }
            )
            audit_rows.append(
                {
                    "backend_id": backend.id,
                    "direction": "in",
                    "operation": "create",
                    "object_type": self._psa_object_type,
                    "external_id": str(data["id"]),
                    "res_model": line._name,
                    "res_id": line.id,
                    "event_id": event.id,
                    "correlation_id": event.correlation_id,
                    "message": message,
                }
            )
        self.env["psa.binding"].create(binding_rows)
        self.env["psa.audit.log"].sudo().create(audit_rows)
        event_ids = [event.id for event, _d, _v in batch]
        self.env.cr.execute(
            """UPDATE psa_event SET state = 'done', processed_date = %s,
                      attempt_count = attempt_count + 1, result = %s
                WHERE id = ANY(%s)""",
            (now, _("timesheet line created (batch)"), event_ids),
        )
        self.env["psa.event"].invalidate_model(
            ["state", "processed_date", "attempt_count", "result"]
        )
        return [
            f"{event.event_uid}: done — line {line.id}"
            for (event, _d, _v), line in zip(batch, lines, strict=True)
        ]
