import json
from datetime import timedelta

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.tools import escape_psql

from odoo.addons.psa_connector_base.tools.access import workflow_write

# Time entries still on their way: received and not applied, waiting for a reference,
# or failed and in the exception queue.
OPEN_EVENT_STATES = ("pending", "waiting", "failed")
OPEN_EXCEPTION_STATES = ("open", "retrying")
# Nobody's leaving deactivates these.
PROTECTED_GROUPS = ("base.group_system", "base.group_erp_manager")


class PsaLeaver(models.Model):
    """A leaver whose Odoo user the connector deactivates (or did, or must not).

    Written only by the connector (the employee import and the leaver cron): the user
    to deactivate is the one linked to the employee when the HR system terminated
    them, never a user id from a payload or a form.
    """

    _name = "psa.leaver"
    _description = "PSA Connector Leaver (user deactivation)"
    _order = "end_date desc, id desc"
    _rec_name = "employee_id"
    _inherit = ["psa.workflow.guard.mixin"]
    _psa_workflow_fields = (
        "employee_id",
        "user_id",
        "backend_id",
        "end_date",
        "state",
        "done_date",
        "note",
    )

    employee_id = fields.Many2one(
        "hr.employee", required=True, ondelete="cascade", index=True, readonly=True
    )
    user_id = fields.Many2one("res.users", string="User", ondelete="cascade", readonly=True)
    backend_id = fields.Many2one(
        "psa.backend", string="HR system", required=True, ondelete="cascade", readonly=True
    )
    company_id = fields.Many2one(related="employee_id.company_id", store=True, index=True)
    end_date = fields.Date(string="Last working day", required=True, readonly=True)
    state = fields.Selection(
        [
            ("pending", "Waiting for the last time"),
            ("done", "User deactivated"),
            ("kept", "User kept"),
            ("cancelled", "Rehired"),
        ],
        default="pending",
        required=True,
        index=True,
        readonly=True,
    )
    done_date = fields.Datetime(readonly=True)
    note = fields.Char(readonly=True)

    # Registration --------------------------------------------------------------------

    @api.model
    def _psa_register(self, employees, end_date, backend):
        """Called by the employee import when the HR system terminates ``employees``."""
        policy = backend.psa_leaver_user_policy
        if policy == "never":
            return self
        with workflow_write():
            leavers = self.create(
                [
                    {
                        "employee_id": employee.id,
                        # The link HR keeps on the employee; read under sudo as the
                        # integration user may not read every user.
                        "user_id": employee.sudo().user_id.id,
                        "backend_id": backend.id,
                        "end_date": end_date,
                    }
                    for employee in employees
                ]
            )
        no_user = leavers.filtered(lambda leaver: not leaver.user_id)
        with workflow_write():
            no_user.write({"state": "kept", "note": _("The employee has no Odoo user.")})
        leavers -= no_user
        if policy == "termination":
            leavers._psa_deactivate()
        return leavers

    @api.model
    def _psa_cancel(self, employees):
        with workflow_write():
            self.search([("employee_id", "in", employees.ids), ("state", "=", "pending")]).write(
                {"state": "cancelled"}
            )

    # Deactivation --------------------------------------------------------------------

    @api.model
    def _cron_deactivate_users(self, today=None):
        """Deactivate the users of leavers whose late time is in (per company, as its
        integration user)."""
        today = today or fields.Date.context_today(self)
        pending = self.sudo().search([("state", "=", "pending")])
        for backend, leavers in pending.grouped("backend_id").items():
            if backend.psa_leaver_user_policy == "never":
                continue
            integration = backend._as_integration_user()
            leavers.with_env(integration.env)._psa_deactivate_due(today)

    def _psa_deactivate_due(self, today):
        due = self.filtered(
            lambda leaver: leaver.state == "pending"
            and leaver.end_date + timedelta(days=leaver.backend_id.psa_leaver_grace_days or 0)
            <= today
        )
        ready = due.filtered(lambda leaver: not leaver._psa_time_still_expected())
        ready._psa_deactivate()
        return ready

    def _psa_time_still_expected(self):
        """Whether a time entry of the leaver dated up to their last day is still on
        its way: an event not applied yet, or an open exception about one."""
        self.ensure_one()
        employee = self.employee_id.sudo()
        bindings = (
            self.env["psa.binding"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "hr.employee"),
                    ("res_id", "=", employee.id),
                    ("external_type", "=", "employee"),
                ]
            )
        )
        ids = {str(b.external_id) for b in bindings}
        email = (employee.work_email or "").strip().lower()
        needles = sorted(ids | ({email} if email else set()))
        if not needles:
            return False
        # A coarse filter on the raw payload, then the exact check on its data.
        payload_match = ["|"] * (len(needles) - 1) + [
            ("payload", "ilike", escape_psql(needle)) for needle in needles
        ]
        company = self.company_id
        events = (
            self.env["psa.event"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("object_type", "=", "time_entry"),
                    ("state", "in", OPEN_EVENT_STATES),
                    *payload_match,
                ]
            )
        )
        exceptions = (
            self.env["psa.exception"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("object_type", "=", "time_entry"),
                    ("state", "in", OPEN_EXCEPTION_STATES),
                    *payload_match,
                ]
            )
        )
        last_day = str(self.end_date)
        for payload in events.mapped("payload") + exceptions.mapped("payload"):
            data = _data(payload)
            if not data:
                continue
            names_them = str(data.get("employee_id") or "") in ids or (
                email and (data.get("employee_email") or "").strip().lower() == email
            )
            if names_them and str(data.get("date") or "")[:10] <= last_day:
                return True
        return False

    def _psa_deactivate(self):
        """Deactivate the leavers' users, each in the audit log.

        The only write on users: the ids are the connector's own (``user_id`` set at
        termination), the write is ``active`` only, and administrators, the superuser
        and integration users are refused.
        """
        integration_users = (
            self.env["res.company"].sudo().search([]).mapped("psa_integration_user_id")
        )
        now = fields.Datetime.now()
        for leaver in self:
            # sudo: the integration user may not write users, and must not be allowed to;
            # this one field of this one user is all it does.
            user = leaver.sudo().user_id.with_context(active_test=False)
            refused = (
                user.id == SUPERUSER_ID
                or user in integration_users
                or any(user.has_group(xmlid) for xmlid in PROTECTED_GROUPS)
            )
            if refused:
                leaver._psa_finish(
                    "kept",
                    _(
                        "%s is an administrator or an integration user: not deactivated.",
                        user.name,
                    ),
                    outcome="skipped",
                )
                continue
            if user.active:
                user.write({"active": False})
            leaver._psa_finish(
                "done",
                _(
                    "Odoo user %(user)s deactivated: %(employee)s left on %(day)s.",
                    user=user.login,
                    employee=leaver.employee_id.name,
                    day=leaver.end_date,
                ),
                done_date=now,
            )

    def _psa_finish(self, state, message, outcome="success", done_date=False):
        self.ensure_one()
        with workflow_write():
            self.sudo().write({"state": state, "note": message, "done_date": done_date})
        self.env["psa.audit.log"]._log(
            backend=self.backend_id,
            direction="in",
            operation="update",
            object_type="employee",
            record=self.sudo().user_id,
            outcome=outcome,
            message=message,
            values={"active": False} if state == "done" else None,
        )


def _data(payload):
    try:
        envelope = json.loads(payload or "")
    except ValueError:
        return None
    data = envelope.get("data") if isinstance(envelope, dict) else None
    return data if isinstance(data, dict) else None
