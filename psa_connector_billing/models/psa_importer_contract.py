from odoo import Command, _, models
from odoo.tools import float_compare

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid, SyncConflict

# One generic service product per kind of line, created on demand and shared by all
# contracts: the contract line carries the name and the price, not the product.
SERVICE_PRODUCTS = {
    "time_and_materials": {
        "default_code": "PSA-TM",
        "name": "PSA service: time and materials",
        # sale_timesheet counts approved timesheet hours as the delivered quantity.
        "service_type": "timesheet",
        "invoice_policy": "delivery",
        "uom": "uom.product_uom_hour",
    },
    "fixed_fee": {
        "default_code": "PSA-FIXED",
        "name": "PSA service: fixed fee",
        # A fee without an instalment plan is billable once the contract is signed.
        "service_type": "manual",
        "invoice_policy": "order",
    },
    "milestone": {
        "default_code": "PSA-MILESTONE",
        "name": "PSA service: milestone",
        # Delivered (quantity set) only when the PSA reports the milestone accepted.
        "service_type": "manual",
        "invoice_policy": "delivery",
    },
    "retainer": {
        "default_code": "PSA-RETAINER",
        "name": "PSA service: retainer",
        "service_type": "manual",
        "invoice_policy": "delivery",
    },
    "change_order": {
        "default_code": "PSA-CHANGE",
        "name": "PSA service: change order",
        "service_type": "manual",
        "invoice_policy": "delivery",
    },
}


# The canonical contract states (and the usual synonyms PSAs send) → the order's
# lifecycle (sale.order.psa_contract_state). No state at all: active, as before the
# state was honoured. Anything else is refused with its payload kept.
CONTRACT_STATE_MAP = {
    "draft": "pending",
    "proposed": "pending",
    "signed": "pending",
    # Approved (signed off by both sides) is the PSA's go: billed like an active one.
    "approved": "active",
    "active": "active",
    "closed": "closed",
    "completed": "closed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


class PsaImporterContract(models.AbstractModel):
    """A PSA contract → one confirmed sale order, priced from its rate card.

    Time and materials: one order line per role and per person of the rate card; the
    project is linked to the order (default line, per-person mapping), so sale_timesheet
    prices and invoices approved time. Fixed fee and milestones: one line per scheduled
    milestone or instalment, made deliverable by billing events. Retainer: lines are
    added per period by billing events. Lines already on a posted invoice are never
    changed: a contract update that would change them raises a conflict instead.
    """

    _name = "psa.importer.contract"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Contracts"
    _psa_object_type = "contract"
    _psa_odoo_model = "sale.order"
    # After projects (20) and tasks (30); before time entries (40), so new time is
    # priced on arrival (time already there is re-priced in _link_project).
    _psa_priority = 35
    # In the project's company (entity routing): its currency, journals and sequences.
    _psa_company_from = (("project", "project_id"),)

    def _map_values(self, backend, data):
        project = self._resolve(backend, "project", data["project_id"])
        if data.get("customer_id"):
            partner = self._resolve(backend, "customer", data["customer_id"])
        else:
            partner = project.partner_id
        self._share_partner(partner)
        if not partner:
            raise PayloadInvalid(
                _("Contract %s names no customer and its project has none.", data["id"])
            )
        company = self._billing_company(backend, project)
        fiscal_position = self.env["psa.tax.mapping"]._fiscal_position_for(
            backend, company, partner
        )
        tax_code = data.get("tax_code") or False
        if tax_code:
            # An unknown code stops here, before any order or invoice is drafted.
            self.env["psa.tax.mapping"]._taxes_for(backend, company, tax_code)
        values = {
            "partner_id": partner.id,
            "pricelist_id": self._pricelist(backend, data.get("currency")).id,
            "client_order_ref": data.get("name") or str(data["id"]),
            "psa_contract_type": data["type"],
            "psa_project_id": project.id,
            "psa_retainer_amount": data.get("retainer_amount") or 0.0,
            "psa_retainer_period": data.get("retainer_period") or False,
            "psa_date_start": data.get("date_start") or False,
            "psa_date_end": data.get("date_end") or False,
            "psa_expense_policy": data.get("expense_policy") or "no",
            "psa_tax_code": tax_code,
            "psa_service_item": data.get("service_item") or False,
            "psa_contract_state": self._contract_state(data),
        }
        if fiscal_position:
            values["fiscal_position_id"] = fiscal_position.id
        return values

    def _contract_state(self, data):
        """The order lifecycle the PSA's ``state`` means (see CONTRACT_STATE_MAP)."""
        state = data.get("state")
        if state is None or state == "":
            return "active"
        mapped = CONTRACT_STATE_MAP.get(str(state).strip().lower())
        if not mapped:
            raise PayloadInvalid(
                _(
                    "Contract %(contract)s has state %(state)r, which the connector does not "
                    "know. Known states: %(known)s. Correct the state in the PSA (or its "
                    "adapter), then retry this exception.",
                    contract=data["id"],
                    state=state,
                    known=", ".join(sorted(CONTRACT_STATE_MAP)),
                )
            )
        return mapped

    def _billing_company(self, backend, project):
        """The company the contract is billed in: its project's (entity routing decides
        that), else the company the import runs in. Products, taxes and fiscal positions
        are looked up for this company, never for the backend's."""
        return project.company_id or self.env.company

    def _create_record(self, backend, values, data):
        project = self.env["project.project"].browse(values["psa_project_id"])
        plan = self._line_plan(backend, data)
        # Products and taxes of every line are resolved before the order exists: an
        # unmapped service or tax code creates nothing.
        self._resolve_plan(
            backend,
            self._billing_company(backend, project),
            plan,
            self._order_fiscal_position(values, project=project),
            values.get("psa_tax_code"),
            values.get("psa_service_item"),
        )
        order = self.env["sale.order"].create(
            {
                **values,
                "company_id": self.env.company.id,
                "psa_backend_id": backend.id,
                "psa_contract_ref": str(data["id"]),
                "order_line": [Command.create(self._line_values(item, project)) for item in plan],
            }
        )
        # An active contract is confirmed so that timesheets attach to it and delivered
        # quantities can be invoiced; one not yet active stays a quotation.
        self._apply_lifecycle(order, plan)
        return order

    def _apply_update(self, event, binding, record, values, data):
        plan = self._line_plan(event.backend_id, data)
        self._resolve_plan(
            event.backend_id,
            record.company_id,
            plan,
            self._order_fiscal_position(values, record),
            values.get("psa_tax_code"),
            values.get("psa_service_item"),
        )
        new_state = values["psa_contract_state"]
        if new_state == "cancelled" and record.state != "cancel":
            self._check_cancellable(record)
        self._check_posted(record, values, plan)
        message = super()._apply_update(event, binding, record, values, data)
        added = 0
        if new_state in ("pending", "active") or record.state == "draft":
            # A closed (locked) or cancelled contract takes no new lines.
            added = self._sync_lines(record, plan)
        transition = self._apply_lifecycle(record, plan)
        if added:
            message += "; " + _("%s line(s) added", added)
        if transition:
            message += "; " + transition
        return message

    # Lifecycle ------------------------------------------------------------------------

    def _check_cancellable(self, order):
        """Cancelling a contract with posted invoices is finance's decision."""
        posted = order.invoice_ids.filtered(lambda m: m.state == "posted")
        if posted:
            raise self._conflict(
                order,
                _(
                    "was cancelled in the PSA, but posted invoices bill it; the order was left as it is"
                ),
                incoming={"state": "cancelled"},
                current={
                    "order_state": order.state,
                    "invoices": ", ".join(posted.mapped("name")),
                },
            )

    def _apply_lifecycle(self, order, plan):
        """Bring the order to the state its contract is in; returns what was done, or ''.

        pending: stays (or goes back to) a quotation; active: confirmed (and unlocked
        if it was closed); closed: confirmed and locked; cancelled: cancelled (the caller
        checked for posted invoices first).
        """
        state = order.psa_contract_state or "active"
        done = ""
        if state == "cancelled":
            if order.state != "cancel":
                order._action_cancel()
                done = _("order cancelled: the contract was cancelled in the PSA")
            return done
        if order.state == "cancel":
            order.action_draft()
            done = _("order reopened as a quotation")
        if state == "pending":
            return done
        if order.state == "draft":
            order.action_confirm()
            done = _("order confirmed: the contract is %s in the PSA", state)
        if order.state == "sale":
            self._link_project(order, order.psa_project_id, plan)
        if state == "closed" and not order.locked:
            order.action_lock()
            done = _("order locked: the contract is closed in the PSA")
        elif state == "active" and order.locked:
            order.action_unlock()
            done = _("order unlocked: the contract is active again in the PSA")
        return done

    def _apply_delete(self, event, binding, record, external_id):
        if not record:
            return "skipped", _("deleted remotely; Odoo holds no order for it")
        if record.invoice_ids.filtered(lambda m: m.state == "posted"):
            raise self._conflict(
                record,
                _("was deleted in the PSA, but it is invoiced; the order was left as it is"),
                incoming={"state": "deleted"},
                current={"invoices": ", ".join(record.invoice_ids.mapped("name"))},
            )
        # Cancel rather than delete: the order stays as the trace of the contract.
        record._action_cancel()
        self._audit(event, "archive", external_id, record)
        return "done", _("order cancelled after the contract was deleted")

    # Lines ----------------------------------------------------------------------------

    def _line_plan(self, backend, data):
        """[{key, kind, name, price, qty, employee}] for the lines the contract implies."""
        contract_type = data["type"]
        plan = []
        if contract_type == "time_and_materials":
            for entry in data.get("rate_card") or []:
                plan.append(self._rate_card_item(backend, entry))
            if not plan:
                raise PayloadInvalid(
                    _("Time-and-materials contract %s has no rate card.", data["id"])
                )
            defaults = (
                [item for item in plan if item["default"]]
                or [item for item in plan if not item["employee"]]
                or plan
            )
            defaults[0]["default"] = True
            return plan
        for milestone in data.get("milestones") or []:
            if not isinstance(milestone, dict) or not milestone.get("id"):
                raise PayloadInvalid(_("Each milestone needs an id, a name and an amount."))
            plan.append(
                {
                    "key": f"milestone:{milestone['id']}",
                    "kind": "milestone",
                    "name": milestone.get("name") or str(milestone["id"]),
                    "price": float(milestone.get("amount") or 0.0),
                    "qty": 1.0,
                    "employee": None,
                    "default": False,
                    "service_item": self._code(milestone, "service_item"),
                    "tax_code": self._code(milestone, "tax_code"),
                }
            )
        if contract_type == "fixed_fee" and not plan:
            if not data.get("fixed_amount"):
                raise PayloadInvalid(_("Fixed-fee contract %s has no fixed_amount.", data["id"]))
            plan.append(
                {
                    "key": "fixed",
                    "kind": "fixed_fee",
                    "name": data.get("name") or _("Fixed fee"),
                    "price": float(data["fixed_amount"]),
                    "qty": 1.0,
                    "employee": None,
                    "default": False,
                }
            )
        return plan

    def _rate_card_item(self, backend, entry):
        if not isinstance(entry, dict) or not isinstance(entry.get("hourly_rate"), int | float):
            raise PayloadInvalid(_("Each rate card entry needs an hourly_rate."))
        employee = None
        if entry.get("employee_id") or entry.get("employee_email"):
            # Same resolution as time entries (binding, then work e-mail), so the person
            # whose time is priced here is the one the time entries name.
            employee = self.env["psa.importer.time_entry"]._resolve_employee(backend, entry)
            key = f"employee:{entry.get('employee_id') or entry['employee_email'].lower()}"
            name = employee.name
        elif entry.get("role"):
            key, name = f"role:{entry['role']}", entry["role"]
        else:
            raise PayloadInvalid(_("A rate card entry needs a role or an employee_id."))
        return {
            "key": key,
            "kind": "time_and_materials",
            "name": name,
            "price": float(entry["hourly_rate"]),
            # Hours are whatever time is approved: nothing is ordered up front.
            "qty": 0.0,
            "employee": employee,
            "default": bool(entry.get("default")),
            "service_item": self._code(entry, "service_item"),
            "role": entry.get("role"),
            "tax_code": self._code(entry, "tax_code"),
        }

    def _code(self, values, key):
        """A service item or tax code of a rate card entry or milestone (free-form JSON,
        which the schema does not type): text, or None."""
        value = values.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int) or len(str(value)) > 64:
            raise PayloadInvalid(_("%s must be a code of at most 64 characters.", key))
        return str(value)

    # Service catalogue and taxes ---------------------------------------------------

    def _order_fiscal_position(self, values, order=None, project=None):
        """The fiscal position the order has (or will have): a customer rule's, else the
        order's, else the one Odoo detects for the customer (as the new order will)."""
        FiscalPosition = self.env["account.fiscal.position"]
        if values.get("fiscal_position_id"):
            return FiscalPosition.browse(values["fiscal_position_id"])
        if order is not None:
            return order.fiscal_position_id
        company = self._billing_company(None, project)
        partner = self.env["res.partner"].browse(values["partner_id"])
        return FiscalPosition.with_company(company)._get_fiscal_position(partner)

    def _resolve_plan(self, backend, company, plan, fiscal_position, tax_code, service_item):
        """Give each planned line its product (service catalogue) and, when a tax code
        applies (the line's, else the contract's), its taxes mapped by the order's
        fiscal position. Raises before anything is written when a code is unmapped."""
        for item in plan:
            item["product"] = self._catalogue_product(
                backend,
                company,
                item,
                default_service_item=None if item["kind"] == "time_and_materials" else service_item,
            )
            if item["product"] and item["kind"] == "time_and_materials":
                # The rate card is hourly; a product sold by the day is priced per day.
                hour = self.env.ref("uom.product_uom_hour")
                item["price"] = hour._compute_price(item["price"], item["product"].uom_id)
            item["taxes"] = self._line_taxes(
                backend, company, item.get("tax_code") or tax_code, fiscal_position
            )
        return plan

    def _catalogue_product(self, backend, company, item, default_service_item=None):
        """The mapped product of a planned line, or None for the generic product.

        A line's service item wins; a time-and-materials line without one is looked up
        by its role. With the backend's "Require service mapping", a code without a
        mapping (or a rate card entry with nothing to map) stops at the exception queue.
        """
        Mapping = self.env["psa.service.mapping"]
        code = item.get("service_item") or default_service_item
        kind = "service_item"
        if not code and item["kind"] == "time_and_materials" and item.get("role"):
            code, kind = item["role"], "role"
        if code:
            product = Mapping._product_for(backend, company, kind, code, item["kind"])
            if product:
                return product
            if backend.billing_require_service_mapping:
                raise Mapping._missing(backend, company, kind, code)
            return None
        if backend.billing_require_service_mapping and item["kind"] == "time_and_materials":
            raise PayloadInvalid(
                _(
                    "Rate card entry %(line)s names no service item and no role, and "
                    "%(backend)s requires every rate to map to a product of the service "
                    "catalogue. Send a service_item or a role with the entry.",
                    line=item["name"],
                    backend=backend.name,
                )
            )
        return None

    def _line_taxes(self, backend, company, tax_code, fiscal_position):
        """The taxes for ``tax_code`` after the fiscal position, or None: Odoo's default
        (the product's taxes, mapped by the order's fiscal position)."""
        if not tax_code:
            return None
        taxes = self.env["psa.tax.mapping"]._taxes_for(backend, company, tax_code)
        return fiscal_position.map_tax(taxes) if fiscal_position else taxes

    def _line_values(self, item, project):
        values = {
            "product_id": (item.get("product") or self._service_product(item["kind"])).id,
            "name": item["name"],
            "product_uom_qty": item["qty"],
            "price_unit": item["price"],
            "psa_line_key": item["key"],
        }
        if project.account_id:
            # Revenue lands on the engagement's analytic account, like its costs.
            values["analytic_distribution"] = {str(project.account_id.id): 100}
        if item.get("taxes") is not None:
            values["tax_id"] = [Command.set(item["taxes"].ids)]
        return values

    def _sync_lines(self, order, plan):
        """Reprice lines whose rate changed, add new ones; returns how many were added.

        Lines the contract no longer lists stay (a confirmed order line cannot be
        deleted); the PSA stops sending billing events for them.
        """
        added = 0
        project = order.psa_project_id
        for item in plan:
            line = order._psa_line(item["key"])
            if not line:
                order.write({"order_line": [Command.create(self._line_values(item, project))]})
                added += 1
            elif self._differs(line.price_unit, item["price"], order):
                line.price_unit = item["price"]
                line._psa_draft_invoice_lines().write({"price_unit": item["price"]})
            if line and line.name != item["name"]:
                line.name = item["name"]
            taxes = item.get("taxes")
            # A tax code changed in the PSA before anything was posted.
            if (
                line
                and taxes is not None
                and line.tax_id != taxes
                and not line._psa_posted_invoice_lines()
            ):
                line.tax_id = taxes
                line._psa_draft_invoice_lines().write({"tax_ids": [Command.set(taxes.ids)]})
        return added

    def _check_posted(self, order, values, plan):
        """A change touching what a posted invoice billed is finance's decision."""
        incoming, current = {}, {}
        posted = order.invoice_ids.filtered(lambda m: m.state == "posted")
        if posted:
            for name in ("partner_id", "pricelist_id"):
                if values.get(name) and values[name] != order[name].id:
                    incoming[name], current[name] = values[name], order[name].id
        for item in plan:
            line = order._psa_line(item["key"])
            if (
                line
                and line._psa_posted_invoice_lines()
                and self._differs(line.price_unit, item["price"], order)
            ):
                incoming[item["key"]], current[item["key"]] = item["price"], line.price_unit
        if incoming:
            raise self._conflict(
                order,
                _("changed in the PSA what posted invoices already billed"),
                incoming=incoming,
                current=current,
            )

    def _differs(self, a, b, order):
        return float_compare(a, b, precision_rounding=order.currency_id.rounding or 0.01) != 0

    def _conflict(self, order, what, incoming, current):
        error = SyncConflict(
            _(
                "Contract %(contract)s (%(order)s) %(what)s. Posted invoices are never "
                "changed from outside: issue a credit note or correct the PSA, then ignore "
                "or retry this exception.",
                contract=order.psa_contract_ref,
                order=order.name,
                what=what,
            ),
            incoming=incoming,
            current=current,
        )
        error.details.update(res_model=order._name, res_id=order.id)
        return error

    def _link_project(self, order, project, plan):
        """Make sale_timesheet bill the project's time on this order (T&M only)."""
        if order.psa_contract_type != "time_and_materials" or not project:
            return
        default = next(item for item in plan if item["default"])
        values = {"allow_billable": True, "sale_line_id": order._psa_line(default["key"]).id}
        if not project.partner_id:
            values["partner_id"] = order.partner_id.id
        project.write(values)
        Map = self.env["project.sale.line.employee.map"]
        for item in plan:
            if not item["employee"]:
                continue
            line = order._psa_line(item["key"])
            mapping = project.sale_line_employee_ids.filtered(
                lambda m, e=item["employee"]: m.employee_id == e
            )
            if mapping:
                mapping.sale_line_id = line
            else:
                Map.create(
                    {
                        "project_id": project.id,
                        "employee_id": item["employee"].id,
                        "sale_line_id": line.id,
                    }
                )
        # Tasks that arrived before the contract get its sale line (writing the project's
        # does not recompute theirs), then their time is priced, unless already invoiced.
        project.task_ids.filtered(lambda task: not task.sale_line_id)._compute_sale_line()
        self.env["account.analytic.line"].search(
            [("project_id", "=", project.id), ("timesheet_invoice_id", "=", False)]
        )._compute_so_line()

    # Products and pricelists --------------------------------------------------------

    def _service_product(self, kind):
        spec = SERVICE_PRODUCTS[kind]
        Product = self.env["product.product"].sudo().with_context(active_test=False)
        product = Product.search([("default_code", "=", spec["default_code"])], limit=1)
        if product:
            return product
        # Two workers creating the first contract of a kind must not create two products.
        self.env.cr.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (spec["default_code"],))
        product = Product.search([("default_code", "=", spec["default_code"])], limit=1)
        if product:
            return product
        values = {
            "name": spec["name"],
            "default_code": spec["default_code"],
            "type": "service",
            "service_type": spec["service_type"],
            "invoice_policy": spec["invoice_policy"],
            "sale_ok": True,
            "purchase_ok": False,
            "list_price": 0.0,
        }
        if spec.get("uom"):
            uom = self.env.ref(spec["uom"])
            values.update(uom_id=uom.id, uom_po_id=uom.id)
        return Product.create(values)

    def _pricelist(self, backend, currency_code):
        """A pricelist in the contract's currency, created on first use."""
        # The company the contract was routed to (its project's, _target_company).
        company = self.env.company
        currency = self._currency_for(currency_code, company)
        Pricelist = self.env["product.pricelist"].sudo()
        pricelist = Pricelist.search(
            [("currency_id", "=", currency.id), ("company_id", "in", (company.id, False))],
            order="company_id desc, id",
            limit=1,
        )
        return pricelist or Pricelist.create(
            {
                "name": _("PSA contracts (%s)", currency.name),
                "currency_id": currency.id,
                "company_id": company.id,
            }
        )

    def _write_back_refs(self, record):
        return {**super()._write_back_refs(record), "name": record.name}
