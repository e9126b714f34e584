from odoo import Command, _, fields, models
from odoo.tools import float_compare

from odoo.addons.psa_connector_base.tools.errors import SyncConflict

# One generic service product per kind of purchase, created on demand: the order line
# carries the description and the amount. Bills are matched on ordered quantities.
PURCHASE_PRODUCTS = {
    "subcontract": ("PSA-SUBCONTRACT", "PSA subcontractor time", "uom.product_uom_hour"),
    "purchase": ("PSA-PURCHASE", "PSA project purchase", None),
}
# PSA approval states in which the purchase is a commitment (a confirmed order).
COMMITTED_STATES = ("approved", "closed")
WITHDRAWN_STATES = ("rejected", "cancelled")


class PsaImporterPurchase(models.AbstractModel):
    """A PSA subcontractor engagement or project purchase → a purchase order.

    Approved: a confirmed order, on the project's analytic account, so the commitment
    is visible before any bill arrives. Draft or submitted: a request for quotation
    (not committed yet). Closed: the order is locked, nothing more is committed.
    Rejected, cancelled or deleted: the order is cancelled, unless it is billed; then
    a conflict for finance.
    """

    _name = "psa.importer.purchase"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Purchases"
    _psa_object_type = "purchase"
    _psa_odoo_model = "purchase.order"
    _psa_company_from = (("project", "project_id"),)
    # After projects (20) and contracts (35); before vendor bills (60).
    _psa_priority = 55

    def _map_values(self, backend, data):
        project = self._resolve(backend, "project", data["project_id"])
        vendor = self._vendor(backend, data)
        currency = self._currency_for(data.get("currency"), self.env.company)
        return {
            "partner_id": vendor.id,
            "currency_id": currency.id,
            "psa_project_id": project.id,
            "psa_purchase_kind": data.get("kind") or "purchase",
            "psa_purchase_state": data["state"],
            "origin": _("PSA %s", data["id"]),
        }

    def _create_record(self, backend, values, data):
        project = self.env["project.project"].browse(values["psa_project_id"])
        order_date = fields.Datetime.to_datetime(data.get("date")) or fields.Datetime.now()
        order = self.env["purchase.order"].create(
            {
                **values,
                "company_id": self.env.company.id,
                "psa_backend_id": backend.id,
                "psa_purchase_ref": str(data["id"]),
                "date_order": order_date,
                "order_line": [Command.create(self._line_values(data, project, order_date))],
            }
        )
        self._sync_state(order, data)
        return order

    def _apply_update(self, event, binding, record, values, data):
        message = super()._apply_update(event, binding, record, values, data)
        if data["state"] not in WITHDRAWN_STATES:
            changed = self._sync_line(record, data)
            if changed:
                message += "; " + _("amount now %s", data["amount"])
        state_message = self._sync_state(record, data)
        if state_message:
            message += "; " + state_message
        return message

    def _apply_delete(self, event, binding, record, external_id):
        if not record:
            return "skipped", _("deleted remotely; Odoo holds no order for it")
        self._withdraw(record, "deleted")
        self._audit(event, "archive", external_id, record)
        return "done", _("order cancelled after the purchase was deleted")

    # Lines and states ----------------------------------------------------------------

    def _quantities(self, data):
        """(quantity, unit price): hours x rate when they make the amount, else 1 x amount."""
        hours, rate, amount = data.get("hours"), data.get("hourly_rate"), data["amount"]
        if hours and rate and float_compare(hours * rate, amount, precision_digits=2) == 0:
            return float(hours), float(rate)
        return 1.0, float(amount)

    def _line_values(self, data, project, order_date):
        quantity, price = self._quantities(data)
        values = {
            "product_id": self._purchase_product(data.get("kind") or "purchase").id,
            "name": data.get("description") or data.get("vendor_name"),
            "product_qty": quantity,
            "price_unit": price,
            # Amounts are untaxed; finance sets the taxes on the bill it validates.
            "taxes_id": [Command.clear()],
            "date_planned": order_date,
        }
        if project.account_id:
            values["analytic_distribution"] = {str(project.account_id.id): 100}
        return values

    def _sync_line(self, order, data):
        """Follow an amount or project change, never below what is already billed."""
        line = order.order_line.filtered(lambda item: not item.display_type)[:1]
        account = order.psa_project_id.account_id
        distribution = {str(account.id): 100} if account else False
        if distribution and line.analytic_distribution != distribution:
            line.analytic_distribution = distribution
        quantity, price = self._quantities(data)
        rounding = order.currency_id.rounding or 0.01
        if (
            float_compare(line.product_qty, quantity, precision_digits=4) == 0
            and float_compare(line.price_unit, price, precision_rounding=rounding) == 0
        ):
            return False
        billed = sum(order._psa_billed_lines().mapped("price_subtotal"))
        if float_compare(data["amount"], billed, precision_rounding=rounding) < 0:
            raise self._conflict(
                order,
                _("was reduced in the PSA below what its vendor already billed"),
                incoming={"amount": data["amount"]},
                current={"billed": billed},
            )
        locked = order.state == "done"
        if locked:
            order.button_unlock()
        line.write({"product_qty": quantity, "price_unit": price})
        if locked:
            order.button_done()
        return True

    def _sync_state(self, order, data):
        state = data["state"]
        if state in WITHDRAWN_STATES:
            return self._withdraw(order, state)
        if state in COMMITTED_STATES:
            message = ""
            if order.state == "cancel":
                order.button_draft()
            if order.state in ("draft", "sent"):
                order.button_confirm()
                message = _("confirmed: committed")
            if order.state == "to approve":
                # Approved in the PSA is approved here: Odoo's second validation is skipped.
                order.write({"state": "purchase", "date_approve": fields.Datetime.now()})
            if state == "closed" and order.state == "purchase":
                # Locked; the report no longer counts what is left unbilled as committed.
                order.button_done()
                message = _("closed: nothing more is committed")
            return message
        # Draft or submitted: a request for quotation, not yet a commitment.
        if order.state == "cancel":
            order.button_draft()
            return _("back to a request for quotation")
        if order.state in ("purchase", "done"):
            self._withdraw(order, state)
            order.button_draft()
            return _("no longer approved: back to a request for quotation")
        return ""

    def _withdraw(self, order, state):
        if order.state == "cancel":
            return ""
        bills = order._psa_billed_lines().move_id
        if bills:
            raise self._conflict(
                order,
                _("is %s in the PSA, but its vendor already billed it", state),
                incoming={"state": state},
                current={"bills": ", ".join(bills.mapped(lambda m: m.name or m.ref or "draft"))},
            )
        if order.state == "done":
            order.button_unlock()
        order.button_cancel()
        return _("cancelled: no longer committed")

    def _conflict(self, order, what, incoming, current):
        error = SyncConflict(
            _(
                "Purchase %(purchase)s (%(order)s) %(what)s. Bills are finance's: credit "
                "or cancel them, or correct the PSA, then ignore or retry this exception.",
                purchase=order.psa_purchase_ref,
                order=order.name,
                what=what,
            ),
            incoming=incoming,
            current=current,
        )
        error.details.update(res_model=order._name, res_id=order.id)
        return error

    # Vendors and products -----------------------------------------------------------

    def _vendor(self, backend, data):
        """The partner bound to the PSA vendor; else matched on VAT or name; else created."""
        external_id = str(data["vendor_id"])
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (backend.id, f"vendor:{external_id}")
        )
        Binding = self.env["psa.binding"]
        partner = Binding._find_record(backend, "vendor", external_id)
        if partner:
            return partner
        Partner = self.env["res.partner"].with_context(active_test=False)
        company_domain = [("company_id", "in", [False, self.env.company.id])]
        partner = Partner.browse()
        if data.get("vendor_vat"):
            partner = Partner.search(
                [("vat", "=", data["vendor_vat"]), ("parent_id", "=", False), *company_domain],
                limit=1,
            )
        if not partner:
            partner = Partner.search(
                [
                    ("name", "=ilike", data["vendor_name"]),
                    ("is_company", "=", True),
                    ("parent_id", "=", False),
                    *company_domain,
                ],
                limit=1,
            )
        if not partner:
            partner = Partner.create(
                {
                    "name": data["vendor_name"],
                    "is_company": True,
                    "email": data.get("vendor_email") or False,
                    "vat": data.get("vendor_vat") or False,
                    "supplier_rank": 1,
                    "company_id": self.env.company.id,
                }
            )
        Binding.create(
            {
                "backend_id": backend.id,
                "external_type": "vendor",
                "external_id": external_id,
                "res_model": "res.partner",
                "res_id": partner.id,
            }
        )
        return partner

    def _purchase_product(self, kind):
        code, name, uom_xmlid = PURCHASE_PRODUCTS[kind]
        Product = self.env["product.product"].sudo().with_context(active_test=False)
        product = Product.search([("default_code", "=", code)], limit=1)
        if product:
            return product
        self.env.cr.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (code,))
        product = Product.search([("default_code", "=", code)], limit=1)
        if product:
            return product
        values = {
            "name": name,
            "default_code": code,
            "type": "service",
            "purchase_ok": True,
            "sale_ok": False,
            # Billed on ordered quantities: a subcontractor's time is "received" when
            # the PSA approves it, which is when its bill arrives.
            "purchase_method": "purchase",
            "supplier_taxes_id": [Command.clear()],
            "list_price": 0.0,
            "standard_price": 0.0,
        }
        if uom_xmlid:
            uom = self.env.ref(uom_xmlid)
            values.update(uom_id=uom.id, uom_po_id=uom.id)
        return Product.create(values)

    def _write_back_refs(self, record):
        return {**super()._write_back_refs(record), "name": record.name}
