from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.psa_connector_base.tools.access import (
    MANAGER,
    USER,
    in_workflow,
    requires_group,
    workflow_write,
)
from odoo.addons.psa_connector_base.tools.errors import RemoteServiceError, SyncConflict

FINANCE = "account.group_account_manager"
# Differences a fresh import of the PSA record fixes (or turns into a conflict to decide).
REIMPORT_KINDS = ("event_missing", "event_amount", "expense_missing", "expense_amount")
OPEN_EXCEPTION_STATES = ("open", "retrying")


class PsaMoneyReconciliationLine(models.Model):
    _name = "psa.money.reconciliation.line"
    _description = "PSA Connector Money Reconciliation Difference"
    _inherit = ["psa.workflow.guard.mixin"]
    _order = "object_type, date, external_id, id"
    # Written by the run (findings) and by the fix actions (state, exception) only.
    _psa_workflow_fields = (
        "reconciliation_id",
        "object_type",
        "kind",
        "external_id",
        "contract_ref",
        "date",
        "psa_amount",
        "odoo_amount",
        "psa_value",
        "odoo_value",
        "psa_payload",
        "sale_order_id",
        "sale_line_id",
        "invoice_id",
        "expense_id",
        "state",
        "exception_id",
    )

    reconciliation_id = fields.Many2one(
        "psa.money.reconciliation", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="reconciliation_id.company_id", store=True, index=True)
    backend_id = fields.Many2one(related="reconciliation_id.backend_id")
    object_type = fields.Selection(
        [
            ("billing_event", "Billing event"),
            ("expense", "Expense"),
            ("contract", "Contract"),
            ("invoice", "Invoice"),
        ],
        required=True,
    )
    kind = fields.Selection(
        [
            ("event_missing", "Billing event missing in Odoo"),
            ("event_amount", "Billing event amount differs"),
            ("event_extra", "Invoiced in Odoo, not in the PSA"),
            ("expense_missing", "Expense missing in Odoo"),
            ("expense_amount", "Expense amount differs"),
            ("expense_not_reinvoiced", "Expense not re-invoiced"),
            ("expense_extra", "Expense in Odoo, not reimbursable in the PSA"),
            ("contract_total", "Contract total differs"),
            ("payment_status", "Payment status differs"),
        ],
        required=True,
    )
    external_id = fields.Char(string="PSA record", help="The PSA id (invoice number for invoices).")
    contract_ref = fields.Char(string="PSA contract")
    date = fields.Date()
    psa_amount = fields.Float(string="PSA amount")
    odoo_amount = fields.Float(string="Odoo amount")
    difference = fields.Float(compute="_compute_difference", store=True)
    psa_value = fields.Char(string="PSA says")
    odoo_value = fields.Char(string="Odoo holds")
    psa_payload = fields.Text(
        string="PSA record as read", help="The PSA's record as the run read it (for reference)."
    )
    sale_order_id = fields.Many2one("sale.order", string="Contract order", ondelete="set null")
    sale_line_id = fields.Many2one("sale.order.line", ondelete="set null")
    invoice_id = fields.Many2one("account.move", ondelete="set null")
    expense_id = fields.Many2one("hr.expense", ondelete="set null")
    state = fields.Selection(
        [
            ("open", "Open"),
            ("requeued", "Re-import queued"),
            ("exception", "In the exception queue"),
        ],
        default="open",
        required=True,
    )
    exception_id = fields.Many2one("psa.exception", ondelete="set null", readonly=True)
    can_reimport = fields.Boolean(compute="_compute_can_reimport")
    is_open = fields.Boolean(
        string="Unresolved",
        compute="_compute_is_open",
        help="Not yet fixed: open, re-import queued but not confirmed by a new run, or an "
        "exception still open.",
    )

    @api.depends("psa_amount", "odoo_amount")
    def _compute_difference(self):
        for line in self:
            line.difference = round(line.psa_amount - line.odoo_amount, 2)

    @api.depends("kind")
    def _compute_can_reimport(self):
        for line in self:
            line.can_reimport = line.kind in REIMPORT_KINDS or line.kind == "payment_status"

    @api.depends("state", "exception_id.state")
    def _compute_is_open(self):
        for line in self:
            # The exception's state only (finance users may not read the queue).
            line.is_open = line.state != "exception" or (
                line.exception_id.sudo().state in OPEN_EXCEPTION_STATES
            )

    @api.ondelete(at_uninstall=False)
    def _unlink_by_the_run_only(self):
        # Deleting a finding would hide a difference as surely as editing it.
        if not (self.env.su or in_workflow()):
            raise AccessError(_("Reconciliation differences are removed by running it again."))

    # Fixing -------------------------------------------------------------------------

    @requires_group(MANAGER, FINANCE)
    def action_reimport(self):
        """Queue the PSA's records again through the normal import path.

        The records are read again from the PSA by the ids the run found: what is
        imported is what the PSA says now, never text stored in Odoo. A payment status
        difference is fixed the other way: Odoo pushes the invoice's status again.
        """
        lines = self.filtered(lambda line: line.state == "open")
        if not lines or not all(line.can_reimport for line in lines):
            raise UserError(
                _(
                    "Only open billing event, expense or payment status differences can be re-imported."
                )
            )
        by_report = defaultdict(lambda: self.browse())
        for line in lines:
            by_report[line.reconciliation_id] |= line
        for report, report_lines in by_report.items():
            report_lines._reimport(report)
        return True

    def _reimport(self, report):
        backend = report.backend_id
        runner = backend._as_integration_user()
        pushes = self.filtered(lambda line: line.kind == "payment_status")
        if pushes:
            pushes.invoice_id.with_env(runner.env)._psa_report_status()
        messages = []
        for object_type in ("billing_event", "expense"):
            lines = self.filtered(lambda line, t=object_type: line.object_type == t) - pushes
            if not lines:
                continue
            wanted = set(lines.mapped("external_id"))
            try:
                adapter = backend._get_adapter()
                records = [
                    record
                    for page in adapter.iter_changes(object_type)
                    for record in page
                    if str(record.get("id")) in wanted
                ]
            except RemoteServiceError as err:
                raise UserError(err.message) from None
            if not records:
                raise UserError(
                    _("The PSA no longer lists these records: run the reconciliation again.")
                )
            new_events, retried = (
                self.env["psa.event"]
                .with_env(runner.env)
                ._requeue_pulled(backend.with_env(runner.env), object_type, records)
            )
            messages.append(
                _(
                    "%(count)s %(type)s queued again (%(new)s new, %(retried)s retried).",
                    count=len(records),
                    type=object_type,
                    new=len(new_events),
                    retried=len(retried),
                )
            )
        with workflow_write():
            self.write({"state": "requeued"})
        if pushes:
            messages.append(
                _("Invoice status pushed again: %s", ", ".join(pushes.mapped("external_id")))
            )
        report.message_post(body=" ".join(messages))

    @requires_group(MANAGER, FINANCE)
    def action_create_exception(self):
        """Hand the difference to a person: one exception per line, with both sides."""
        for line in self.filtered(lambda line: line.state != "exception" or not line.is_open):
            report = line.reconciliation_id
            kind = dict(line._fields["kind"]._description_selection(line.env))[line.kind]
            error = SyncConflict(
                _(
                    "Money reconciliation %(report)s: %(kind)s (%(record)s). The PSA says "
                    "%(psa)s; Odoo holds %(odoo)s.",
                    report=report.name,
                    kind=kind,
                    record=line.external_id or line.contract_ref or "",
                    psa=line.psa_value or "-",
                    odoo=line.odoo_value or "-",
                ),
                incoming={"value": line.psa_value, "amount": line.psa_amount},
                current={"value": line.odoo_value, "amount": line.odoo_amount},
            )
            target = line.sale_line_id or line.invoice_id or line.expense_id or line.sale_order_id
            if target:
                error.details.update(res_model=target._name, res_id=target.id)
            exception = self.env["psa.exception"]._record(
                error,
                backend=report.backend_id,
                object_type=line.object_type,
                external_id=line.external_id or line.contract_ref,
            )
            with workflow_write():
                if line.psa_payload and not exception.sudo().payload:
                    # The PSA's record as the run read it, for the person who decides.
                    exception.sudo().payload = line.psa_payload
                line.write({"state": "exception", "exception_id": exception.id})
        return True

    @requires_group(USER, FINANCE)
    def action_open_exception(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "psa.exception",
            "res_id": self.exception_id.id,
            "view_mode": "form",
        }
