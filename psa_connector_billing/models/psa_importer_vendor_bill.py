from odoo import Command, _, models
from odoo.tools import float_compare

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid


class PsaImporterVendorBill(models.AbstractModel):
    """Approved subcontractor time or a vendor's invoice → one draft vendor bill, once.

    The PSA vendor bill id is the idempotency key: the draft bill and its
    ``psa.vendor.bill.record`` are written in the savepoint the event is processed in,
    and the unique index on the record turns any second application into a skip. The
    bill line points to the purchase order line, so the order shows what is billed,
    and carries the project's analytic distribution. Finance validates the drafts.
    """

    _name = "psa.importer.vendor_bill"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Vendor Bills"
    _psa_object_type = "vendor_bill"
    _psa_odoo_model = "account.move"
    _psa_company_from = (("purchase", "purchase_id"),)
    _psa_priority = 60
    _psa_write_back = False
    _psa_idempotency_model = "psa.vendor.bill.record"

    def _must_skip(self, event, action, data):
        if action == "deleted":
            return "skipped", _("a vendor bill cannot be withdrawn; finance credits it")
        if data.get("state") == "approved":
            return None
        # A bill that is not a valid one fails as such, even unapproved.
        self._validate(data)
        # Nothing is claimed: the approved version, when it comes, is billed.
        return "skipped", _("not approved (%s); nothing billed", data["state"])

    def _claim_target(self, backend, data):
        order = self._resolve(backend, "purchase", data["purchase_id"])
        self._check(order, data)
        return order, {
            "kind": data["kind"],
            "purchase_ref": str(data["purchase_id"]),
            "purchase_order_id": order.id,
            "amount": data["amount"],
        }

    def _skip_applied(self, event, key, existing, target):
        self._audit(
            event,
            "skip_stale",
            key,
            existing.bill_id or target,
            outcome="skipped",
            message=_("Vendor bill already applied; nothing done."),
        )
        return "skipped", _("already billed (idempotency key %s)", key)

    def _apply_claimed(self, event, key, record, target, data):
        order = target
        bill = self._create_bill(order, data)
        message = _(
            "draft vendor bill for %(amount)s %(currency)s on %(order)s",
            amount=data["amount"],
            currency=order.currency_id.name,
            order=order.name,
        )
        record.write({"bill_id": bill.id, "result": message})
        self._audit(
            event,
            "create",
            key,
            bill,
            message=message,
            values={"kind": data["kind"], "amount": data["amount"]},
        )
        return "done", message

    def _check(self, order, data):
        if order.state not in ("purchase", "done"):
            raise PayloadInvalid(
                _(
                    "Purchase %(purchase)s (%(order)s) is not approved; approve it in the "
                    "PSA, then retry this vendor bill.",
                    purchase=data["purchase_id"],
                    order=order.name,
                )
            )
        if data.get("currency") and data["currency"].upper() != order.currency_id.name:
            raise PayloadInvalid(
                _(
                    "Vendor bill %(bill)s is in %(currency)s, its purchase %(order)s in "
                    "%(order_currency)s.",
                    bill=data["id"],
                    currency=data["currency"],
                    order=order.name,
                    order_currency=order.currency_id.name,
                )
            )

    def _bill_quantities(self, line, data):
        """Hours x rate against an hourly order line, else the amount as one unit."""
        hours, rate, amount = data.get("hours"), data.get("hourly_rate"), data["amount"]
        if hours and line.product_uom == self.env.ref("uom.product_uom_hour"):
            rate = rate or amount / hours
            if float_compare(hours * rate, amount, precision_digits=2) == 0:
                return float(hours), float(rate)
        return 1.0, float(amount)

    def _create_bill(self, order, data):
        line = order.order_line.filtered(lambda item: not item.display_type)[:1]
        quantity, price = self._bill_quantities(line, data)
        name = data.get("description") or line.name
        return (
            self.env["account.move"]
            .with_context(default_move_type="in_invoice")
            .create(
                {
                    "move_type": "in_invoice",
                    "company_id": order.company_id.id,
                    "partner_id": order.partner_id.id,
                    "currency_id": order.currency_id.id,
                    "invoice_date": data["date"],
                    "ref": data.get("vendor_ref") or _("PSA %s", data["id"]),
                    "invoice_origin": order.name,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": line.product_id.id,
                                "name": name,
                                "quantity": quantity,
                                "product_uom_id": line.product_uom.id,
                                "price_unit": price,
                                "tax_ids": [Command.set(line.taxes_id.ids)],
                                "purchase_line_id": line.id,
                                "analytic_distribution": line.analytic_distribution,
                            }
                        )
                    ],
                }
            )
        )
