from datetime import date

from dateutil.relativedelta import relativedelta

from odoo import fields, models


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    psa_line_key = fields.Char(
        string="PSA line key",
        readonly=True,
        copy=False,
        index=True,
        help="What the line stands for in the contract (role:<name>, employee:<id>, "
        "milestone:<id>, retainer:<period>, change_order:<id>, fixed); contract updates "
        "and billing events find their line by it.",
    )

    def _psa_posted_invoice_lines(self):
        return self.invoice_lines.filtered(lambda line: line.move_id.state == "posted")

    def _psa_draft_invoice_lines(self):
        return self.invoice_lines.filtered(lambda line: line.move_id.state == "draft")

    # Deferred revenue (issue 24) --------------------------------------------------------

    def _prepare_invoice_line(self, **optional_values):
        """Lines of a contract recognised over its period carry their service period
        (account_invoice_start_end_dates), so the month-end prepaid-revenue cut-off
        defers what is not delivered yet."""
        values = super()._prepare_invoice_line(**optional_values)
        period = self._psa_service_period()
        if period and not values.get("start_date"):
            values["start_date"], values["end_date"] = period
        return values

    def _psa_service_period(self):
        """(start, end) of what the line sells, or None: a retainer line its period
        (2026-11, 2026-Q4 or 2026), other lines the contract's dates."""
        self.ensure_one()
        order = self.order_id
        if order.psa_recognition_method != "over_period" or self.display_type:
            return None
        if self.is_expense or self.product_id.service_type == "timesheet":
            return None
        key = self.psa_line_key or ""
        if key.startswith("retainer:"):
            period = _retainer_bounds(key.split(":", 1)[1], order.psa_retainer_period)
            if period:
                return period
        if order.psa_date_start and order.psa_date_end:
            return order.psa_date_start, order.psa_date_end
        return None


def _retainer_bounds(period, unit):
    """First and last day of a retainer period named like 2026-11, 2026-Q4 or 2026."""
    text = (period or "").strip().upper()
    try:
        if len(text) == 7 and text[4] == "-" and text[5] != "Q":
            start = date(int(text[:4]), int(text[5:]), 1)
            months = 3 if unit == "quarter" else 12 if unit == "year" else 1
        elif len(text) == 7 and text[4:6] == "-Q":
            start = date(int(text[:4]), 3 * int(text[6]) - 2, 1)
            months = 3
        elif len(text) == 4:
            start, months = date(int(text), 1, 1), 12
        else:
            return None
    except ValueError:
        return None
    return start, start + relativedelta(months=months, days=-1)
