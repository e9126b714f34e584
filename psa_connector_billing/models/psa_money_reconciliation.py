import json
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_is_zero

from odoo.addons.psa_connector_base.tools.access import (
    MANAGER,
    USER,
    in_workflow,
    requires_group,
    workflow_write,
)
from odoo.addons.psa_connector_base.tools.errors import RemoteServiceError

from .psa_importer_billing_event import SCHEDULED_KINDS
from .psa_importer_expense import APPROVED_STATES

FINANCE = "account.group_account_manager"
# Billing event kinds that put an amount on the contract's order (see the importer).
BILLING_KINDS = (*SCHEDULED_KINDS, "retainer.period", "change_order.approved")
AMOUNT_KINDS = (*BILLING_KINDS, "change_order.amended")


def _record_date(record):
    """The day a PSA record belongs to: its own date, else the day it was made."""
    for key in ("date", "created_at", "updated_at"):
        value = record.get(key)
        if isinstance(value, str) and len(value) >= 10:
            return fields.Date.to_date(value[:10])
    return None


class PsaMoneyReconciliation(models.Model):
    """The PSA's money against Odoo's, per backend, company and period.

    Three comparisons: the PSA's billing events against what they billed in Odoo (the
    applied-event records, their order lines and posted invoice lines); the PSA's
    approved reimbursable expenses against Odoo's expenses, their reports and the order
    lines that re-invoice them; and per contract, the total the PSA billed against
    Odoo's posted invoices, with the payment status the PSA holds for each invoice.
    Every difference is a line that can be re-imported (the PSA record queued again
    through the normal import path) or turned into an exception for a person.
    """

    _name = "psa.money.reconciliation"
    _description = "PSA Connector Money Reconciliation"
    _inherit = ["mail.thread", "psa.workflow.guard.mixin"]
    _order = "id desc"
    # The report's findings are the run's, not anyone's to edit: the fixes act on them.
    _psa_workflow_fields = (
        "state",
        "run_date",
        "error_message",
        "line_ids",
        "psa_billed_amount",
        "odoo_invoiced_amount",
        "psa_event_count",
        "psa_expense_count",
        "difference_count",
    )

    name = fields.Char(compute="_compute_name", store=True)
    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        help="The company whose contracts, invoices and expenses are compared: one backend "
        "may serve several companies (legal-entity mappings).",
    )
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
    line_ids = fields.One2many("psa.money.reconciliation.line", "reconciliation_id")
    psa_billed_amount = fields.Float(
        string="Billed in the PSA",
        readonly=True,
        help="Billing events of the period on this company's contracts, at their amount.",
    )
    odoo_invoiced_amount = fields.Float(
        string="Invoiced in Odoo",
        readonly=True,
        help="Posted invoice lines of the period billing those events (credit notes deducted).",
    )
    psa_event_count = fields.Integer(string="Billing events", readonly=True)
    psa_expense_count = fields.Integer(string="Reimbursable expenses", readonly=True)
    difference_count = fields.Integer(string="Differences", readonly=True)
    open_difference_count = fields.Integer(
        string="Unresolved", compute="_compute_open_difference_count"
    )

    @api.depends("backend_id", "company_id", "date_from", "date_to")
    def _compute_name(self):
        for report in self:
            report.name = (
                f"{report.backend_id.name or ''} / {report.company_id.name or ''}: "
                f"{report.date_from} to {report.date_to}"
            )

    @api.depends("line_ids.state", "line_ids.exception_id.state")
    def _compute_open_difference_count(self):
        for report in self:
            report.open_difference_count = len(report.line_ids.filtered("is_open"))

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        if any(r.date_from > r.date_to for r in self):
            raise UserError(_("The period must start before it ends."))

    def write(self, vals):
        # The findings belong to the backend, company and period they were computed for.
        if (
            {"backend_id", "company_id", "date_from", "date_to"} & set(vals)
            and not (self.env.su or in_workflow())
            and any(report.state != "draft" for report in self)
        ):
            raise UserError(
                _("A reconciliation that ran keeps its backend and period: create a new one.")
            )
        return super().write(vals)

    # The agreed hook of the month-end close ------------------------------------------

    @api.model
    def _psa_open_differences(self, company, date_from, date_to):
        """Unresolved PSA-vs-Odoo money differences of ``company`` in the period.

        Read from the latest run per backend whose period overlaps the one asked for; a
        difference stays unresolved until a later run no longer finds it, or a person
        took it over as an exception that was resolved. Returns an int.
        """
        runs = self.sudo().search(
            [
                ("company_id", "=", company.id),
                ("state", "=", "done"),
                ("date_from", "<=", date_to),
                ("date_to", ">=", date_from),
            ],
            order="run_date desc, id desc",
        )
        latest = {}
        for run in runs:
            latest.setdefault(run.backend_id.id, run)
        return sum(run.open_difference_count for run in latest.values())

    # Running ------------------------------------------------------------------------

    @requires_group(USER, FINANCE)
    def action_run(self):
        for report in self:
            report._check_company_served()
            try:
                # The comparison reads the connector's bindings and applied-event records,
                # which finance users do not hold: it runs as the company's integration
                # user (whose companies the backend serves), as the backend's jobs do.
                runner = report.with_env(report.sudo().backend_id._as_integration_user().env)
                with self.env.cr.savepoint(), workflow_write():
                    runner._run()
            except (RemoteServiceError, NotImplementedError) as err:
                message = getattr(err, "message", None) or str(err)
                with workflow_write():
                    report.write(
                        {
                            "state": "failed",
                            "error_message": message,
                            "run_date": fields.Datetime.now(),
                        }
                    )
        return True

    def _check_company_served(self):
        # Read as the system: finance users run the report without reading backends.
        backend = self.sudo().backend_id
        served = backend.company_id | self.env["psa.entity.mapping"].sudo()._companies_of(backend)
        if self.company_id not in served:
            raise UserError(
                _(
                    "%(backend)s does not serve %(company)s.",
                    backend=self.backend_id.name,
                    company=self.company_id.name,
                )
            )

    def _in_period(self, record):
        day = _record_date(record)
        return bool(day) and self.date_from <= day <= self.date_to

    def _run(self):
        self.ensure_one()
        adapter = self.backend_id._get_adapter()
        # The billing events and expenses the PSA lists now (billing events are few: one
        # per milestone, period or change order); what falls in the period is kept.
        events = [e for page in adapter.iter_changes("billing_event") for e in page]
        expenses = [e for page in adapter.iter_changes("expense") for e in page]
        lines, totals = self._compare_billing_events(events)
        lines += self._compare_expenses(expenses)
        lines += self._compare_contracts(adapter, totals, {v.get("contract_ref") for v in lines})
        self.line_ids.unlink()
        self.write(
            {
                "line_ids": [fields.Command.create(values) for values in lines],
                "state": "done",
                "run_date": fields.Datetime.now(),
                "error_message": False,
                "psa_billed_amount": sum(t["psa"] for t in totals.values()),
                "odoo_invoiced_amount": sum(t["odoo"] for t in totals.values()),
                "psa_event_count": sum(t["events"] for t in totals.values()),
                "psa_expense_count": len(
                    [e for e in expenses if self._is_reimbursable(e) and self._in_period(e)]
                ),
                "difference_count": len(lines),
            }
        )

    # Billing events ↔ order and invoice lines --------------------------------------

    def _order_of(self, contract_ref):
        order = self.env["psa.binding"]._find_record(self.backend_id, "contract", contract_ref)
        return order or self.env["sale.order"]

    def _is_ours(self, company):
        return company == self.company_id

    def _rounding(self, order):
        return (order.currency_id or self.company_id.currency_id).rounding or 0.01

    @api.model
    def _posted_invoiced(self, sale_lines, date_from=None, date_to=None):
        """Posted customer invoice lines of ``sale_lines`` (credit notes negative)."""
        amount = 0.0
        for aml in sale_lines.invoice_lines:
            move = aml.move_id
            if move.state != "posted" or move.move_type not in ("out_invoice", "out_refund"):
                continue
            if date_from and not (date_from <= move.invoice_date <= date_to):
                continue
            sign = -1 if move.move_type == "out_refund" else 1
            amount += sign * aml.price_subtotal
        return amount

    def _compare_billing_events(self, events):
        """(difference line values, {contract ref: totals}) of the period's events."""
        Record = self.env["psa.billing.event.record"]
        trigger = f"milestone.{self.backend_id.billing_milestone_trigger}"
        lines = []
        totals = defaultdict(lambda: {"psa": 0.0, "odoo": 0.0, "events": 0, "order": None})
        psa_keys = set()
        for data in events:
            key = str(data.get("id"))
            psa_keys.add(key)
            contract_ref = str(data.get("contract_id") or "")
            order = self._order_of(contract_ref)
            company = order.company_id if order else self.backend_id.company_id
            if not self._is_ours(company) or not self._in_period(data):
                continue
            record = Record._find(self.backend_id, key)
            kind = data.get("kind")
            bills = kind in BILLING_KINDS and (not kind.startswith("milestone.") or kind == trigger)
            psa_amount = data.get("amount")
            if psa_amount is None and record.sale_line_id and bills:
                # No amount: the contract's scheduled one, which the order line carries.
                psa_amount = record.sale_line_id.price_unit
            if bills:
                total = totals[contract_ref]
                total["order"] = order
                total["events"] += 1
                total["psa"] += psa_amount or 0.0
            base = {
                "object_type": "billing_event",
                "external_id": key,
                "contract_ref": contract_ref,
                "sale_order_id": order.id if order else False,
                "date": _record_date(data),
                "psa_amount": psa_amount or 0.0,
                "psa_payload": json.dumps(data, ensure_ascii=False, default=str),
            }
            if not record:
                lines.append(
                    {
                        **base,
                        "kind": "event_missing",
                        "psa_value": _("%(kind)s of %(amount)s", kind=kind, amount=psa_amount),
                        "odoo_value": _("not applied"),
                    }
                )
                continue
            if not record.sale_line_id or kind not in AMOUNT_KINDS or data.get("amount") is None:
                continue
            line = record.sale_line_id
            posted = line.invoice_lines.filtered(
                lambda aml: aml.move_id.state == "posted"
                and aml.move_id.move_type in ("out_invoice", "out_refund")
            )
            odoo_amount = self._posted_invoiced(line) if posted else line.price_unit
            if float_compare(odoo_amount, data["amount"], precision_rounding=self._rounding(order)):
                lines.append(
                    {
                        **base,
                        "kind": "event_amount",
                        "sale_line_id": line.id,
                        "odoo_amount": odoo_amount,
                        "psa_value": _("%(kind)s of %(amount)s", kind=kind, amount=data["amount"]),
                        "odoo_value": (
                            _("invoiced %s", odoo_amount)
                            if posted
                            else _("order line at %s, not invoiced", odoo_amount)
                        ),
                    }
                )
        lines += self._billed_not_in_psa(psa_keys)
        return lines, totals

    def _billed_not_in_psa(self, psa_keys):
        """Events invoiced in Odoo in the period that the PSA no longer lists."""
        records = self.env["psa.billing.event.record"].search(
            [
                ("backend_id", "=", self.backend_id.id),
                ("sale_line_id", "!=", False),
                ("idempotency_key", "not in", list(psa_keys)),
            ]
        )
        lines = []
        for record in records:
            order = record.sale_order_id
            if not self._is_ours(order.company_id):
                continue
            invoiced = self._posted_invoiced(record.sale_line_id, self.date_from, self.date_to)
            if float_is_zero(invoiced, precision_rounding=self._rounding(order)):
                continue
            lines.append(
                {
                    "object_type": "billing_event",
                    "kind": "event_extra",
                    "external_id": record.idempotency_key,
                    "contract_ref": record.contract_ref,
                    "sale_order_id": order.id,
                    "sale_line_id": record.sale_line_id.id,
                    "odoo_amount": invoiced,
                    "psa_value": _("not listed by the PSA"),
                    "odoo_value": _(
                        "%(kind)s invoiced %(amount)s", kind=record.kind, amount=invoiced
                    ),
                }
            )
        return lines

    # Expenses ↔ expense reports and re-invoiced lines ------------------------------

    @api.model
    def _is_reimbursable(self, data):
        return data.get("state") in APPROVED_STATES and data.get("reimbursable") is not False

    def _compare_expenses(self, expenses):
        Binding = self.env["psa.binding"]
        lines = []
        psa_keys = set()
        for data in expenses:
            if not self._is_reimbursable(data):
                continue
            key = str(data.get("id"))
            psa_keys.add(key)
            if not self._in_period(data):
                continue
            expense = (
                Binding._find_record(self.backend_id, "expense", key) or self.env["hr.expense"]
            )
            project = (
                Binding._find_record(self.backend_id, "project", str(data.get("project_id")))
                or self.env["project.project"]
            )
            company = expense.company_id or project.company_id or self.backend_id.company_id
            if not self._is_ours(company):
                continue
            base = {
                "object_type": "expense",
                "external_id": key,
                "date": _record_date(data),
                "psa_amount": data.get("amount") or 0.0,
                "psa_payload": json.dumps(data, ensure_ascii=False, default=str),
                "expense_id": expense.id if expense else False,
            }
            psa_value = _(
                "%(amount)s %(currency)s, %(state)s",
                amount=data.get("amount"),
                currency=data.get("currency") or "",
                state=data.get("state"),
            )
            if not expense:
                lines.append(
                    {
                        **base,
                        "kind": "expense_missing",
                        "psa_value": psa_value,
                        "odoo_value": _("no expense"),
                    }
                )
                continue
            sheet_state = dict(
                expense.sheet_id._fields["state"]._description_selection(self.env)
            ).get(expense.sheet_id.state, _("no report"))
            rounding = expense.currency_id.rounding or 0.01
            if float_compare(
                expense.total_amount_currency,
                data.get("amount") or 0.0,
                precision_rounding=rounding,
            ):
                lines.append(
                    {
                        **base,
                        "kind": "expense_amount",
                        "odoo_amount": expense.total_amount_currency,
                        "psa_value": psa_value,
                        "odoo_value": _(
                            "%(amount)s, report %(state)s",
                            amount=expense.total_amount_currency,
                            state=sheet_state,
                        ),
                    }
                )
                continue
            order = expense.sale_order_id
            if order and expense.product_id.expense_policy in ("cost", "sales_price"):
                reinvoiced = self._reinvoiced_lines(expense)
                if not reinvoiced:
                    lines.append(
                        {
                            **base,
                            "kind": "expense_not_reinvoiced",
                            "sale_order_id": order.id,
                            "contract_ref": order.psa_contract_ref or False,
                            "odoo_amount": 0.0,
                            "psa_value": psa_value,
                            "odoo_value": _(
                                "report %(state)s, not on %(order)s",
                                state=sheet_state,
                                order=order.name,
                            ),
                        }
                    )
        lines += self._expenses_not_in_psa(psa_keys)
        return lines

    def _reinvoiced_lines(self, expense):
        """The order lines re-invoicing ``expense`` (sale_expense adds them on posting)."""
        # The posted report's journal items carry the expense; their analytic lines point
        # to the order line Odoo added (or increased) to re-invoice it.
        items = self.env["account.move.line"].search(
            [("expense_id", "=", expense.id), ("parent_state", "=", "posted")]
        )
        return (items.analytic_line_ids.so_line | items.sale_line_ids).filtered("is_expense")

    def _expenses_not_in_psa(self, psa_keys):
        bindings = self.env["psa.binding"].search(
            [
                ("backend_id", "=", self.backend_id.id),
                ("external_type", "=", "expense"),
                ("res_model", "=", "hr.expense"),
                ("external_id", "not in", list(psa_keys)),
            ]
        )
        lines = []
        for binding in bindings:
            expense = self.env["hr.expense"].browse(binding.res_id).exists()
            if not expense or not self._is_ours(expense.company_id):
                continue
            if not (self.date_from <= expense.date <= self.date_to):
                continue
            lines.append(
                {
                    "object_type": "expense",
                    "kind": "expense_extra",
                    "external_id": binding.external_id,
                    "date": expense.date,
                    "expense_id": expense.id,
                    "odoo_amount": expense.total_amount_currency,
                    "psa_value": _("not approved and reimbursable in the PSA"),
                    "odoo_value": _("%s in Odoo", expense.total_amount_currency),
                }
            )
        return lines

    # Contract totals and payment status ----------------------------------------------

    def _compare_contracts(self, adapter, totals, explained):
        """Per contract: the PSA's billed total against Odoo's posted invoices, and the
        payment status the PSA holds for each of those invoices against Odoo's.

        A contract whose events already have difference lines gets no total line: those
        lines explain its total.
        """
        lines = []
        Record = self.env["psa.billing.event.record"]
        for contract_ref, total in sorted(totals.items()):
            order = total["order"]
            if not order:
                continue
            sale_lines = Record.search(
                [("backend_id", "=", self.backend_id.id), ("sale_order_id", "=", order.id)]
            ).sale_line_id
            total["odoo"] = self._posted_invoiced(sale_lines, self.date_from, self.date_to)
            rounding = self._rounding(order)
            if contract_ref not in explained and float_compare(
                total["psa"], total["odoo"], precision_rounding=rounding
            ):
                lines.append(
                    {
                        "object_type": "contract",
                        "kind": "contract_total",
                        "external_id": contract_ref,
                        "contract_ref": contract_ref,
                        "sale_order_id": order.id,
                        "psa_amount": total["psa"],
                        "odoo_amount": total["odoo"],
                        "psa_value": _(
                            "%(count)s billing events, %(amount)s",
                            count=total["events"],
                            amount=total["psa"],
                        ),
                        "odoo_value": _("posted invoices %s", total["odoo"]),
                    }
                )
            invoices = sale_lines.invoice_lines.move_id.filtered(
                lambda m: m.state == "posted"
                and m.move_type in ("out_invoice", "out_refund")
                and self.date_from <= m.invoice_date <= self.date_to
            )
            for invoice in invoices.sorted("name"):
                line = self._compare_payment(adapter, order, invoice)
                if line:
                    lines.append({**line, "contract_ref": contract_ref})
        return lines

    def _compare_payment(self, adapter, order, invoice):
        try:
            remote = adapter.fetch_invoice_status(invoice.name)
        except NotImplementedError:
            # The PSA exposes no invoice status: the totals are all there is to compare.
            return None
        rounding = invoice.currency_id.rounding or 0.01
        odoo_value = _(
            "%(state)s, %(residual)s due of %(total)s",
            state=invoice.payment_state,
            residual=invoice.amount_residual,
            total=invoice.amount_total,
        )
        if remote and remote.get("payment_state") == invoice.payment_state:
            residual = remote.get("amount_residual")
            if residual is not None and not float_compare(
                float(residual), invoice.amount_residual, precision_rounding=rounding
            ):
                return None
        return {
            "object_type": "invoice",
            "kind": "payment_status",
            "external_id": invoice.name,
            "sale_order_id": order.id,
            "invoice_id": invoice.id,
            "psa_amount": float((remote or {}).get("amount_residual") or 0.0),
            "odoo_amount": invoice.amount_residual,
            "psa_value": (
                _(
                    "%(state)s, %(residual)s due",
                    state=remote.get("payment_state"),
                    residual=remote.get("amount_residual"),
                )
                if remote
                else _("invoice unknown to the PSA")
            ),
            "odoo_value": odoo_value,
        }

    # Fixing -------------------------------------------------------------------------

    @requires_group(MANAGER, FINANCE)
    def action_reimport_all(self):
        """Re-import every difference that a re-import can fix."""
        self.ensure_one()
        lines = self.line_ids.filtered(lambda line: line.can_reimport and line.state == "open")
        if not lines:
            raise UserError(_("No difference of this run can be fixed by a re-import."))
        return lines.action_reimport()
