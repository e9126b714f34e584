from collections import defaultdict

from odoo import _, fields, models


class AccountCutoff(models.Model):
    """OCA cut-offs fed by the connector at a month's close (issue 24).

    A cut-off created by a month close (``psa_month_close_id``) gets, after OCA's own
    lines: for accrued revenue, the approved billable time and re-invoiceable expenses
    of connector contracts not invoiced at the cut-off date, valued at the contract's
    rate card (WIP), and the revenue earned but not invoiced of percent-complete
    contracts; for prepaid revenue (OCA's start/end dates lines: retainers and
    contracts recognised over their period), the part invoiced ahead of completion of
    percent-complete contracts.
    """

    _inherit = "account.cutoff"

    psa_month_close_id = fields.Many2one(
        "psa.month.close",
        string="Month close",
        readonly=True,
        copy=False,
        index=True,
        ondelete="restrict",
        help="The PSA month close that generates this cut-off: its connector lines are "
        "rebuilt by the close's Generate button.",
    )

    def get_lines(self):
        res = super().get_lines()
        if self.psa_month_close_id:
            vals_list = []
            if self.cutoff_type == "accrued_revenue":
                vals_list += self._psa_wip_line_vals()
            if self.cutoff_type in ("accrued_revenue", "prepaid_revenue"):
                vals_list += self._psa_percent_complete_line_vals()
            self.env["account.cutoff.line"].create(vals_list)
        return res

    # Helpers -------------------------------------------------------------------------

    def _psa_orders(self, method):
        return (
            self.env["sale.order"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company_id.id),
                    ("psa_backend_id", "!=", False),
                    ("state", "=", "sale"),
                    ("psa_recognition_method", "=", method),
                ]
            )
        )

    def _psa_income_account(self, line):
        order = line.order_id
        accounts = line.product_id.product_tmpl_id.with_company(
            self.company_id
        )._get_product_accounts()
        account = (
            accounts["income"]
            or self.env["account.journal"]
            .search([("company_id", "=", self.company_id.id), ("type", "=", "sale")], limit=1)
            .default_account_id
        )
        if order.fiscal_position_id:
            account = order.fiscal_position_id.map_account(account)
        return account

    def _psa_to_company(self, amount, order):
        return order.currency_id._convert(
            amount, self.company_currency_id, self.company_id, self.cutoff_date
        )

    def _psa_invoiced_by_cutoff(self, lines):
        """Posted invoice lines of ``lines`` dated up to the cut-off."""
        return lines.invoice_lines.filtered(
            lambda aml: aml.parent_state == "posted" and aml.date <= self.cutoff_date
        )

    def _psa_line_vals(self, order, so_line, name, quantity, price, amount, mapping):
        account = self._psa_income_account(so_line)
        project = order.psa_project_id or so_line.project_id
        analytic = {str(project.account_id.id): 100.0} if project.account_id else False
        return {
            "parent_id": self.id,
            "partner_id": order.partner_invoice_id.id,
            "name": name,
            "quantity": quantity,
            "price_unit": price,
            "price_origin": order.name,
            "account_id": account.id,
            "cutoff_account_id": mapping.get(account.id, account.id),
            "analytic_distribution": analytic,
            "currency_id": order.currency_id.id,
            "amount": amount,
            "cutoff_amount": self.company_currency_id.round(self._psa_to_company(amount, order)),
        }

    # WIP (accrued revenue) -------------------------------------------------------------

    def _psa_wip_line_vals(self):
        """Approved, billable, unbilled time and re-invoiceable expenses at the cut-off
        date of on-invoice contracts, one line per contract line (rate)."""
        self.ensure_one()
        day = self.cutoff_date
        mapping = self._get_mapping_dict()
        orders = self._psa_orders("on_invoice")
        if not orders:
            return []
        hour = self.env.ref("uom.product_uom_hour")
        timesheets = (
            self.env["account.analytic.line"]
            .sudo()
            .search(
                [
                    ("so_line", "in", orders.order_line.ids),
                    ("project_id", "!=", False),
                    ("date", "<=", day),
                    ("company_id", "=", self.company_id.id),
                ]
            )
        )
        hours = defaultdict(float)
        for sheet in timesheets:
            invoice = sheet.timesheet_invoice_id
            if invoice and invoice.state == "posted" and invoice.date <= day:
                continue  # invoiced by the cut-off date
            if sheet.timesheet_invoice_type not in (False, "billable_time"):
                continue
            hours[sheet.so_line] += sheet.unit_amount
        vals_list = []
        for so_line, total in hours.items():
            if not total:
                continue
            qty = hour._compute_quantity(total, so_line.product_uom or hour)
            amount = so_line.currency_id.round(qty * so_line.price_unit)
            name = _(
                "%(project)s: %(hours).2f h unbilled at %(rate)s (%(line)s)",
                project=so_line.order_id.psa_project_id.name or so_line.order_id.name,
                hours=total,
                rate=so_line.price_unit,
                line=so_line.name,
            )
            vals_list.append(
                self._psa_line_vals(
                    so_line.order_id, so_line, name, qty, so_line.price_unit, amount, mapping
                )
            )
        # Re-invoiced expenses delivered on the contract but not invoiced yet.
        for so_line in orders.order_line.filtered("is_expense"):
            invoiced = sum(
                aml.quantity * (-1 if aml.move_id.move_type == "out_refund" else 1)
                for aml in self._psa_invoiced_by_cutoff(so_line)
            )
            qty = so_line.qty_delivered - invoiced
            if qty <= 0 or not so_line.price_unit:
                continue
            amount = so_line.currency_id.round(qty * so_line.price_unit)
            name = _(
                "%(project)s: expense %(line)s not re-invoiced",
                project=so_line.order_id.psa_project_id.name or so_line.order_id.name,
                line=so_line.name,
            )
            vals_list.append(
                self._psa_line_vals(
                    so_line.order_id, so_line, name, qty, so_line.price_unit, amount, mapping
                )
            )
        return vals_list

    # Percentage of completion ------------------------------------------------------------

    def _psa_percent_complete_line_vals(self):
        """Recognised = contract value x completion; the difference with what is invoiced
        by the cut-off is accrued (earned, not invoiced) or deferred (invoiced ahead)."""
        self.ensure_one()
        mapping = self._get_mapping_dict()
        vals_list = []
        for order in self._psa_orders("percent_complete"):
            lines = order.order_line.filtered(
                lambda sol: not sol.display_type and not sol.is_expense
            )
            if not lines:
                continue
            value = sum(lines.mapped("price_subtotal"))
            completion = order._psa_percent_complete(self.cutoff_date)
            recognised = order.currency_id.round(value * completion)
            invoiced = sum(
                aml.price_subtotal * (-1 if aml.move_id.move_type == "out_refund" else 1)
                for aml in self._psa_invoiced_by_cutoff(lines)
            )
            difference = order.currency_id.round(recognised - invoiced)
            if order.currency_id.is_zero(difference):
                continue
            if (difference > 0) != (self.cutoff_type == "accrued_revenue"):
                continue
            name = _(
                "%(project)s: %(pct).1f %% complete, %(recognised)s recognised of "
                "%(value)s, %(invoiced)s invoiced",
                project=order.psa_project_id.name or order.name,
                pct=completion * 100.0,
                recognised=recognised,
                value=value,
                invoiced=invoiced,
            )
            vals_list.append(
                self._psa_line_vals(order, lines[0], name, completion, value, difference, mapping)
            )
        return vals_list
