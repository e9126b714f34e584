from collections import defaultdict

from odoo import fields, models
from odoo.tools import SQL

from odoo.addons.psa_connector_base.tools.access import USER, requires_group

# One counter for every invoice status push: a push queued later carries a higher number,
# so the PSA side never takes an older push after a newer one (psa.backend
# _push_invoice_status_job). A PostgreSQL sequence: taken outside any row lock, never
# rolled back, so two transactions queueing pushes of one invoice never share a number.
STATUS_SEQUENCE = "psa_invoice_status_push_seq"


class AccountMove(models.Model):
    _inherit = "account.move"

    psa_anomaly_count = fields.Integer(
        string="Anomaly flags",
        compute="_compute_psa_anomalies",
        help="Open anomaly flags on the timesheet lines and billing events this invoice bills.",
    )
    psa_anomaly_summary = fields.Text(
        string="Anomalies to review",
        compute="_compute_psa_anomalies",
        help="The open flags of what this invoice bills, one per line, with their evidence.",
    )

    def _psa_anomalies(self):
        """{move id: open flags} of the timesheet lines and billing events it bills."""
        moves = self.filtered(lambda m: m.id and m.move_type in ("out_invoice", "out_refund"))
        if not moves:
            return {}
        # sudo: the flags of what the invoice bills are shown to whoever may read the
        # invoice (finance), as a summary; acknowledging them needs connector rights.
        Anomaly = self.env["psa.anomaly"].sudo()
        sale_lines = moves.sudo().invoice_line_ids.sale_line_ids
        flags = Anomaly.search(
            [
                ("state", "=", "open"),
                "|",
                "|",
                ("analytic_line_id.timesheet_invoice_id", "in", moves.ids),
                ("billing_event_record_id.invoice_id", "in", moves.ids),
                ("billing_event_record_id.sale_line_id", "in", sale_lines.ids),
            ],
            order="date, id",
        )
        result = defaultdict(lambda: Anomaly)
        for flag in flags:
            targets = (
                flag.analytic_line_id.timesheet_invoice_id | flag.billing_event_record_id.invoice_id
            )
            line = flag.billing_event_record_id.sale_line_id
            if line:
                targets |= line.invoice_lines.move_id
            for move in targets & moves:
                result[move.id] |= flag
        return result

    def _compute_psa_anomalies(self):
        anomalies = self._psa_anomalies()
        for move in self:
            flags = anomalies.get(move.id) if move.id else None
            move.psa_anomaly_count = len(flags) if flags else 0
            move.psa_anomaly_summary = (
                "\n".join(f"• {flag.message}" for flag in flags) if flags else False
            )

    @requires_group(USER)
    def action_view_psa_anomalies(self):
        self.ensure_one()
        flags = self._psa_anomalies().get(self.id)
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_billing.action_psa_anomaly"
        )
        action["domain"] = [("id", "in", flags.ids if flags else [])]
        return action

    def init(self):
        super().init()
        self.env.cr.execute(
            SQL("CREATE SEQUENCE IF NOT EXISTS %s", SQL.identifier(STATUS_SEQUENCE))
        )

    def _psa_next_status_sequence(self):
        self.env.cr.execute(SQL("SELECT nextval(%s)", STATUS_SEQUENCE))
        return self.env.cr.fetchone()[0]

    def _psa_contract_orders(self):
        return self.sudo().line_ids.sale_line_ids.order_id.filtered("psa_backend_id")

    def _psa_status_payload(self, orders, sequence=None):
        """What the PSA is told about an invoice, read when the push runs; also kept
        with a failed push. ``sequence`` orders the pushes of one invoice."""
        self.ensure_one()
        return {
            "sequence": sequence,
            "number": self.name,
            "odoo_id": self.id,
            "move_type": self.move_type,
            "state": self.state,
            "payment_state": self.payment_state,
            "currency": self.currency_id.name,
            "amount_untaxed": self.amount_untaxed,
            "amount_tax": self.amount_tax,
            "amount_total": self.amount_total,
            "amount_residual": self.amount_residual,
            "invoice_date": str(self.invoice_date) if self.invoice_date else None,
            "due_date": str(self.invoice_date_due) if self.invoice_date_due else None,
            "reversed_entry": self.reversed_entry_id.name or None,
            "contract_ids": sorted(orders.mapped("psa_contract_ref")),
        }

    def _psa_report_status(self):
        """Queue a status push per backend for customer invoices of PSA contracts.

        The job reads the invoice when it runs and sends it with the sequence taken
        here: whatever order the queue runs (or retries) the pushes in, the PSA ends
        with the latest state.
        """
        for move in self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund")):
            orders = move._psa_contract_orders()
            if not orders or not move.name or move.name == "/":
                continue
            for backend in orders.psa_backend_id:
                backend._enqueue_invoice_status(move, move._psa_next_status_sequence())

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted._psa_report_status()
        return posted

    def button_cancel(self):
        result = super().button_cancel()
        self._psa_report_status()
        return result

    def button_draft(self):
        # A posted invoice reset to draft is no longer owed: the PSA must know.
        was_posted = self.filtered(lambda m: m.state in ("posted", "cancel"))
        result = super().button_draft()
        was_posted._psa_report_status()
        return result
