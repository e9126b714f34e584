from odoo import _, fields, models

from odoo.addons.psa_connector_base.tools.errors import SyncConflict

APPROVED_STATES = ("approved", "paid")
# Expense products per re-invoicing policy; hr_expense/sale_expense read expense_policy.
EXPENSE_PRODUCTS = {
    "cost": ("PSA-EXP-COST", "PSA expense (re-invoiced at cost)"),
    "sales_price": ("PSA-EXP-SALES", "PSA expense (re-invoiced at sales price)"),
    "no": ("PSA-EXP-NONE", "PSA expense (not re-invoiced)"),
}


class PsaImporterExpense(models.AbstractModel):
    """Approved reimbursable PSA expenses → approved hr.expense reports.

    When the project has a PSA contract that re-invoices expenses, the expense points to
    the contract's order; posting the report in accounting (Odoo's standard step, left
    to finance) adds the re-invoiced line at cost or at sales price per the contract.
    """

    _name = "psa.importer.expense"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Expenses"
    _psa_object_type = "expense"
    _psa_odoo_model = "hr.expense"
    _psa_priority = 50
    _psa_write_back = False
    _psa_company_from = (("project", "project_id"),)

    def _action_for(self, backend, action, data):
        if action != "deleted" and (
            data.get("state") not in APPROVED_STATES or data.get("reimbursable") is False
        ):
            # Not (or no longer) approved and reimbursable: there must be no expense.
            return "deleted"
        return super()._action_for(backend, action, data)

    def _map_values(self, backend, data):
        project = self._resolve(backend, "project", data["project_id"])
        employee = self.env["psa.importer.time_entry"]._resolve_employee(backend, data)
        order = self.env["sale.order"].search(
            [
                ("psa_backend_id", "=", backend.id),
                ("psa_project_id", "=", project.id),
                ("state", "=", "sale"),
            ],
            order="id desc",
            limit=1,
        )
        policy = order.psa_expense_policy or "no"
        tax_code = data.get("tax_code") or False
        if tax_code:
            # Checked now: an unknown code must not wait until finance posts the report.
            company = order.company_id or project.company_id or self.env.company
            self.env["psa.tax.mapping"]._taxes_for(backend, company, tax_code)
        currency = self._currency_for(data.get("currency"), self.env.company)
        values = {
            "name": data.get("description") or data.get("category") or _("Expense"),
            "employee_id": employee.id,
            "product_id": self._expense_product(policy).id,
            "date": data["date"],
            "currency_id": currency.id,
            "total_amount_currency": data["amount"],
            "payment_mode": "own_account",
            "psa_receipt_ref": data.get("receipt_ref") or False,
            "psa_tax_code": tax_code,
            "sale_order_id": order.id if policy != "no" else False,
        }
        if project.account_id:
            values["analytic_distribution"] = {str(project.account_id.id): 100}
        return values

    def _create_record(self, backend, values, data):
        # Posting the report books it on this date: never in a locked period.
        accounting_date = self._expense_accounting_date(backend, data)
        expense = self.env["hr.expense"].create({**values, "company_id": self.env.company.id})
        # Approved in the PSA is approved here: the report skips Odoo's approval round.
        sheet = expense._create_sheets_from_expense()
        if accounting_date != expense.date:
            sheet.accounting_date = accounting_date
        sheet.action_submit_sheet()
        sheet._do_approve()
        return expense

    def _expense_accounting_date(self, backend, data):
        """The expense's date, or the first open day once a person accepted it there when
        the date falls in a locked accounting period (else an exception proposing it)."""
        return self._accounting_date(
            backend,
            self.env.company,
            data["date"],
            data["id"],
            _("Expense %s", data["id"]),
        )

    def _apply_update(self, event, binding, record, values, data):
        if record.sheet_id.state in ("post", "done"):
            current = self._comparable_values(record, values)
            incoming = self._comparable_values(record, values, use=values)
            changed = sorted(n for n in values if incoming[n] != current[n])
            if not changed:
                return _("unchanged; the expense is posted")
            raise self._posted_conflict(
                record,
                {n: incoming[n] for n in changed},
                {n: current[n] for n in changed},
            )
        accounting_date = None
        if fields.Date.to_date(values["date"]) != record.date:
            accounting_date = self._expense_accounting_date(event.backend_id, data)
        message = super()._apply_update(event, binding, record, values, data)
        if accounting_date and record.sheet_id and accounting_date != record.date:
            record.sheet_id.accounting_date = accounting_date
        return message

    def _apply_delete(self, event, binding, record, external_id):
        if not record:
            return "skipped", _("not approved; no expense exists")
        if record.sheet_id.state in ("post", "done"):
            raise self._posted_conflict(
                record, {"state": "not approved"}, {"total": record.total_amount_currency}
            )
        sheet = record.sheet_id
        self._audit(event, "delete", external_id, record)
        if sheet:
            sheet.action_reset_expense_sheets()
            sheet.unlink()
        record.unlink()
        return "done", _("expense removed: it is no longer approved")

    def _posted_conflict(self, expense, incoming, current):
        error = SyncConflict(
            _(
                "Expense %(name)s of %(employee)s changed in the PSA, but it is posted "
                "in accounting and was left as it is.",
                name=expense.name,
                employee=expense.employee_id.name,
            ),
            incoming=incoming,
            current=current,
        )
        error.details.update(res_model=expense._name, res_id=expense.id)
        return error

    def _expense_product(self, policy):
        code, name = EXPENSE_PRODUCTS[policy]
        Product = self.env["product.product"].sudo().with_context(active_test=False)
        product = Product.search([("default_code", "=", code)], limit=1)
        if product:
            return product
        self.env.cr.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (code,))
        return Product.search([("default_code", "=", code)], limit=1) or Product.create(
            {
                "name": name,
                "default_code": code,
                "type": "service",
                "can_be_expensed": True,
                "expense_policy": policy,
                "invoice_policy": "delivery",
                "standard_price": 0.0,
                "list_price": 0.0,
                "sale_ok": policy != "no",
                "purchase_ok": True,
            }
        )
