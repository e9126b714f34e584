from odoo import Command, _, models
from odoo.tools import float_compare

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid, SyncConflict

SCHEDULED_KINDS = ("milestone.accepted", "milestone.completed", "instalment.due")


class PsaImporterBillingEvent(models.AbstractModel):
    """A billing event → an invoiceable order line (and a draft invoice), at most once.

    The event id is the idempotency key. The effect and its ``psa.billing.event.record``
    are written in the one savepoint the event is processed in, so either both exist or
    neither does; the unique index on the record makes any second application a skip.
    """

    _name = "psa.importer.billing_event"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Billing Events"
    _psa_object_type = "billing_event"
    _psa_odoo_model = "sale.order.line"
    _psa_company_from = (("contract", "contract_id"),)
    _psa_priority = 45
    _psa_write_back = False
    _psa_idempotency_model = "psa.billing.event.record"

    def _must_skip(self, event, action, data):
        if action == "deleted":
            # What was billed stays billed: the PSA corrects with a change order.
            return "skipped", _("a billing event cannot be withdrawn; send a change order")
        return None

    def _claim_target(self, backend, data):
        order = self._resolve(backend, "contract", data["contract_id"])
        return order, {
            "kind": data["kind"],
            "contract_ref": str(data["contract_id"]),
            "sale_order_id": order.id,
            "amount": data.get("amount") or 0.0,
        }

    def _check_billable(self, order, data):
        """Only an active contract takes billing events: a closed or cancelled one (or one
        not yet active) sends the event to the exception queue with the reason, before
        anything is written, so a retry after the PSA corrects the contract applies it."""
        state = order.psa_contract_state or "active"
        if state == "active" and order.state == "sale":
            return
        reasons = {
            "closed": _(
                "the contract is closed in the PSA; a closed contract takes no new billing"
            ),
            "cancelled": _("the contract is cancelled"),
            "pending": _(
                "the contract is not active yet (its order is a quotation); retry once the "
                "PSA activates it"
            ),
        }
        error = SyncConflict(
            _(
                "Billing event %(event)s (%(kind)s) was not applied to %(order)s: %(reason)s.",
                event=data["id"],
                kind=data["kind"],
                order=order.name,
                reason=reasons.get(state, _("the order is not confirmed")),
            ),
            incoming={"kind": data["kind"], "amount": data.get("amount")},
            current={"contract_state": state, "order_state": order.state},
        )
        error.details.update(res_model=order._name, res_id=order.id)
        raise error

    def _skip_applied(self, event, key, existing, target):
        self._audit(
            event,
            "skip_stale",
            key,
            existing.sale_line_id or target,
            outcome="skipped",
            message=_("Billing event already applied; nothing done."),
        )
        return "skipped", _("already applied (idempotency key %s)", key)

    def _apply_claimed(self, event, key, record, target, data):
        backend, order = event.backend_id, target
        # After the claim: a replay of an event applied before the contract closed is
        # still a skip; raising here rolls the claim back with the savepoint.
        self._check_billable(order, data)
        # Measured before the effect, which reprices or adds the very line it bills.
        ceiling = self._billing_ceiling(backend, order, data)
        line, message = self._apply_effect(backend, order, data)
        if line and ceiling:
            amount = data["amount"] if data.get("amount") is not None else line.price_unit
            self.env["psa.anomaly"]._detect_billing_event(backend, record, amount, *ceiling)
        invoice = self._invoice_after(backend, order, data["kind"]) if line else None
        record.write(
            {
                "sale_line_id": line.id if line else False,
                "invoice_id": invoice.id if invoice else False,
                "state": "applied" if line else "recorded",
                "result": message,
            }
        )
        self._audit(
            event,
            "create" if line else "skip_owned",
            key,
            line or order,
            outcome="success" if line else "skipped",
            message=message,
            values={"kind": data["kind"], "amount": data.get("amount")},
        )
        if invoice:
            message += "; " + _("invoice %s", invoice.name or _("draft"))
        return "done", message

    def _billing_ceiling(self, backend, order, data):
        """(amount the event may bill without a flag, what it is), or None: no ceiling.

        Scheduled kinds bill the contract's schedule: what its milestones, instalments,
        fee and change orders total, less what was already delivered. A retainer period
        bills at most the contract's retainer per period. A change order amends the
        contract itself and has no ceiling.
        """
        kind = data["kind"]
        if kind == "retainer.period":
            if not order.psa_retainer_amount:
                return None
            return order.psa_retainer_amount, _("the retainer per period")
        if kind not in SCHEDULED_KINDS:
            return None
        scheduled = order.order_line.filtered(
            lambda line: (line.psa_line_key or "").split(":")[0]
            in ("milestone", "fixed", "change_order")
        )
        remaining = sum(
            line.price_unit * max(line.product_uom_qty - line.qty_delivered, 0.0)
            for line in scheduled
        )
        return remaining, _("the contract remaining")

    # Effects ---------------------------------------------------------------------------

    def _apply_effect(self, backend, order, data):
        """Return (order line or None, message)."""
        kind = data["kind"]
        if kind in SCHEDULED_KINDS:
            trigger = f"milestone.{backend.billing_milestone_trigger}"
            if kind.startswith("milestone.") and kind != trigger:
                return None, _("recorded; milestones are billed on %s", trigger)
            return self._deliver_scheduled(order, data)
        if kind == "retainer.period":
            return self._retainer_period(order, data)
        if kind == "change_order.approved":
            return self._change_order_approved(order, data)
        return self._change_order_amended(order, data)

    def _deliver_scheduled(self, order, data):
        line = self._scheduled_line(order, data, "milestone_id")
        if data.get("amount") is not None:
            self._reprice(order, line, data["amount"], data)
        if line.qty_delivered >= line.product_uom_qty:
            return line, _("%s was already delivered", line.name)
        line.qty_delivered = line.product_uom_qty
        return line, _("%s is now invoiceable", line.name)

    def _retainer_period(self, order, data):
        period = data.get("period")
        if not period:
            raise PayloadInvalid(_("A retainer.period event needs a period."))
        amount = data.get("amount")
        if amount is None:
            amount = order.psa_retainer_amount
        if not amount:
            raise PayloadInvalid(
                _("No amount for retainer period %s, and the contract has none.", period)
            )
        key = f"retainer:{period}"
        line = order._psa_line(key)
        if line:
            # Another event for a period already billed: the same period is never billed twice.
            self._reprice(order, line, amount, data)
            return line, _("retainer %s was already on the order", period)
        line = self._add_line(
            order,
            key,
            "retainer",
            data.get("description") or _("Retainer %s", period),
            amount,
            data,
        )
        return line, _("retainer %s is now invoiceable", period)

    def _change_order_approved(self, order, data):
        if data.get("amount") is None:
            raise PayloadInvalid(_("An approved change order needs an amount."))
        reference = data.get("change_order_id") or data["id"]
        key = f"change_order:{reference}"
        line = order._psa_line(key)
        if line:
            self._reprice(order, line, data["amount"], data)
            return line, _("change order %s was already on the order", reference)
        name = data.get("description") or _("Change order %s", reference)
        line = self._add_line(order, key, "change_order", name, data["amount"], data)
        return line, _("change order %s is now invoiceable", reference)

    def _change_order_amended(self, order, data):
        """Amend (or cancel) a change order or a scheduled milestone not yet invoiced."""
        if data.get("change_order_id"):
            line = self._scheduled_line(order, data, "change_order_id", prefix="change_order")
        else:
            line = self._scheduled_line(order, data, "milestone_id")
        if data["kind"] == "change_order.cancelled":
            posted = line._psa_posted_invoice_lines()
            if posted:
                raise self._conflict(
                    order,
                    line,
                    data,
                    incoming={"cancelled": True},
                    current={"invoiced_on": ", ".join(posted.move_id.mapped("name"))},
                )
            line._psa_draft_invoice_lines().unlink()
            line.write({"qty_delivered": 0.0, "product_uom_qty": 0.0})
            return line, _("%s cancelled", line.name)
        if data.get("amount") is None:
            raise PayloadInvalid(_("An amended change order needs an amount."))
        self._reprice(order, line, data["amount"], data)
        return line, _("%(line)s amended to %(amount)s", line=line.name, amount=data["amount"])

    # Helpers ---------------------------------------------------------------------------

    def _scheduled_line(self, order, data, field, prefix="milestone"):
        reference = data.get(field)
        if not reference:
            raise PayloadInvalid(
                _("A %(kind)s event needs %(field)s.", kind=data["kind"], field=field)
            )
        line = order._psa_line(f"{prefix}:{reference}")
        if not line:
            raise PayloadInvalid(
                _(
                    "Contract %(contract)s has no %(prefix)s %(ref)s; update the contract "
                    "in the PSA first, then retry this event.",
                    contract=data["contract_id"],
                    prefix=prefix.replace("_", " "),
                    ref=reference,
                )
            )
        return line

    def _reprice(self, order, line, amount, data):
        """Change a line's price, unless a posted invoice billed it: then a conflict."""
        rounding = order.currency_id.rounding or 0.01
        if float_compare(line.price_unit, amount, precision_rounding=rounding) == 0:
            return
        if line._psa_posted_invoice_lines():
            raise self._conflict(
                order,
                line,
                data,
                incoming={"price_unit": amount},
                current={"price_unit": line.price_unit},
            )
        line.price_unit = amount
        # A draft is not finance's yet: it follows the contract.
        line._psa_draft_invoice_lines().write({"price_unit": amount})

    def _add_line(self, order, key, kind, name, amount, data):
        """A delivered line for a retainer period or change order: its product from the
        service catalogue (the event's service item, else the contract's) and its taxes
        from the tax mapping (the event's tax code, else the contract's)."""
        importer = self.env["psa.importer.contract"]
        item = {
            "key": key,
            "kind": kind,
            "name": name,
            "price": amount,
            "qty": 1.0,
            "service_item": data.get("service_item"),
            "tax_code": data.get("tax_code"),
        }
        importer._resolve_plan(
            order.psa_backend_id,
            order.company_id,
            [item],
            order.fiscal_position_id,
            order.psa_tax_code,
            order.psa_service_item,
        )
        values = importer._line_values(item, order.psa_project_id)
        order.write({"order_line": [Command.create(values)]})
        line = order._psa_line(key)
        line.qty_delivered = 1.0
        return line

    def _conflict(self, order, line, data, incoming, current):
        error = SyncConflict(
            _(
                "Billing event %(event)s (%(kind)s) would change %(line)s on %(order)s, "
                "which a posted invoice already billed. Posted invoices are never changed "
                "from outside: issue a credit note or correct the PSA, then ignore or retry.",
                event=data["id"],
                kind=data["kind"],
                line=line.name,
                order=order.name,
            ),
            incoming=incoming,
            current=current,
        )
        error.details.update(res_model=line._name, res_id=line.id)
        return error

    def _invoice_after(self, backend, order, kind):
        """A draft invoice right away if the backend wants it; posted if configured."""
        if not backend.billing_invoice_on_event:
            return None
        invoices = order._psa_create_draft_invoices()
        if invoices and kind in backend._billing_auto_post_kinds():
            invoices.action_post()
        return invoices[:1] or None
