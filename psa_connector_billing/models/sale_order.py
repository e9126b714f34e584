from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from odoo.addons.psa_connector_base.tools.access import USER, requires_group

CONTRACT_TYPES = [
    ("time_and_materials", "Time and materials"),
    ("fixed_fee", "Fixed fee"),
    ("milestone", "Milestones"),
    ("retainer", "Retainer"),
]

# The PSA contract's lifecycle as Odoo holds it (psa.importer.contract maps the PSA's
# state onto these).
CONTRACT_STATES = [
    ("pending", "Not yet active"),
    ("active", "Active"),
    ("closed", "Closed"),
    ("cancelled", "Cancelled"),
]
# How a contract's revenue is recognised at month end (issue 24).
RECOGNITION_METHODS = [
    ("on_invoice", "On invoice (unbilled work accrued)"),
    ("over_period", "Over the service period (deferred)"),
    ("percent_complete", "Percentage of completion"),
]
DEFAULT_RECOGNITION = {
    "time_and_materials": "on_invoice",
    "fixed_fee": "percent_complete",
    "milestone": "on_invoice",
    "retainer": "over_period",
}

# What each reason takes off a contract's invoice readiness (100 = invoice it today).
READINESS_PENALTIES = {
    "unapproved_time": 25,
    "open_exceptions": 30,
    "anomalies": 20,
    "missing_rates": 25,
}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    psa_backend_id = fields.Many2one(
        "psa.backend",
        string="PSA backend",
        readonly=True,
        copy=False,
        index=True,
        help="Set when this order is a PSA contract: the PSA drives its lines.",
    )
    psa_contract_ref = fields.Char(string="PSA contract", readonly=True, copy=False, index=True)
    psa_contract_type = fields.Selection(CONTRACT_TYPES, string="Billing model", readonly=True)
    psa_project_id = fields.Many2one("project.project", string="PSA project", readonly=True)
    psa_retainer_amount = fields.Monetary(
        string="Retainer per period", readonly=True, currency_field="currency_id"
    )
    psa_retainer_period = fields.Char(string="Retainer period", readonly=True)
    psa_expense_policy = fields.Selection(
        [("cost", "At cost"), ("sales_price", "At sales price"), ("no", "Not re-invoiced")],
        string="Expense re-invoicing",
        default="no",
        readonly=True,
        help="How the PSA contract re-invoices the project's reimbursable expenses.",
    )
    psa_tax_code = fields.Char(
        string="PSA tax code",
        readonly=True,
        copy=False,
        help="The contract's tax code: lines without their own get the taxes the "
        "backend's tax mapping gives it in the order's company (re-invoiced expenses too).",
    )
    psa_service_item = fields.Char(
        string="PSA service item",
        readonly=True,
        copy=False,
        help="The contract's service item: its milestones, fees, retainers and change "
        "orders without their own use the product the service catalogue maps it to.",
    )
    psa_contract_state = fields.Selection(
        CONTRACT_STATES,
        string="PSA contract state",
        readonly=True,
        copy=False,
        help="The contract's state in the PSA. Not yet active (draft, signed): the order "
        "stays a quotation until the PSA activates it. Closed: the order is locked and "
        "takes no new billing events. Cancelled: the order is cancelled (unless posted "
        "invoices exist, then finance decides).",
    )
    psa_date_start = fields.Date(string="Contract start", readonly=True, copy=False)
    psa_date_end = fields.Date(string="Contract end", readonly=True, copy=False)
    psa_recognition_method = fields.Selection(
        RECOGNITION_METHODS,
        string="Revenue recognition",
        compute="_compute_psa_recognition_method",
        store=True,
        readonly=False,
        precompute=True,
        help="When the contract's revenue is recognised at month end. On invoice: as "
        "invoiced, with approved but unbilled time and expenses accrued (WIP). Over the "
        "period: invoice lines carry the retainer period (else the contract's dates) and "
        "the part not delivered yet at a month end is deferred. Percent complete: "
        "revenue = contract value x approved hours / budget hours (capped at 100 %); "
        "invoiced ahead is deferred, earned but not invoiced is accrued. Defaults from "
        "the billing model; finance (accounting managers) may change it.",
    )
    psa_billing_event_ids = fields.One2many("psa.billing.event.record", "sale_order_id")
    psa_anomaly_ids = fields.One2many(
        "psa.anomaly", "sale_order_id", string="Anomaly flags", readonly=True
    )
    psa_anomaly_count = fields.Integer(
        string="Open anomaly flags",
        compute="_compute_psa_readiness",
        help="Flags on this contract's incoming time and billing events not acknowledged yet.",
    )
    psa_readiness_score = fields.Integer(
        string="Invoice readiness",
        compute="_compute_psa_readiness",
        help="100: nothing stands in the way of invoicing this contract today. Each reason "
        "below takes points off: time not approved (or not applied) in the PSA, open "
        "exceptions about the contract or its project, open anomaly flags, time without a "
        "rate.",
    )
    psa_readiness_reasons = fields.Text(
        string="Readiness reasons",
        compute="_compute_psa_readiness",
        help="Why the contract is not ready to invoice, with the figures.",
    )

    @api.depends("psa_contract_type")
    def _compute_psa_recognition_method(self):
        for order in self:
            if not order.psa_recognition_method:
                order.psa_recognition_method = DEFAULT_RECOGNITION.get(
                    order.psa_contract_type, "on_invoice"
                )

    def write(self, vals):
        if (
            "psa_recognition_method" in vals
            and not self.env.su
            and not self.env.user.has_group("account.group_account_manager")
        ):
            raise AccessError(
                _("Only accounting managers may change a contract's revenue recognition.")
            )
        return super().write(vals)

    def _psa_percent_complete(self, date_to):
        """Approved hours of the contract's project up to ``date_to`` over its budget
        hours (the project's allocated hours), capped at 1.0; 0.0 without a budget."""
        self.ensure_one()
        project = self.psa_project_id
        budget = project.allocated_hours if project else 0.0
        if not budget:
            return 0.0
        groups = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                [
                    ("project_id", "=", project.id),
                    ("date", "<=", date_to),
                    ("company_id", "=", self.company_id.id),
                ],
                aggregates=["unit_amount:sum"],
            )
        )
        hours = groups[0][0] or 0.0
        return min(hours / budget, 1.0)

    def _psa_line(self, key):
        self.ensure_one()
        return self.order_line.filtered(lambda line: line.psa_line_key == key)[:1]

    def _psa_create_draft_invoices(self):
        """Draft invoices for the orders with something to invoice; never posts them."""
        invoices = self.env["account.move"]
        for order in self.filtered(
            lambda o: o.state == "sale" and o.invoice_status == "to invoice"
        ):
            invoices |= order._create_invoices()
        return invoices

    # Invoice readiness ---------------------------------------------------------------

    def _compute_psa_readiness(self):
        """Score and reasons for all shown contracts at once: one query per reason."""
        contracts = self.filtered(lambda o: o.psa_backend_id and o.id)
        (self - contracts).update(
            {"psa_readiness_score": 0, "psa_readiness_reasons": False, "psa_anomaly_count": 0}
        )
        if not contracts:
            return
        # sudo: readiness is a summary of connector data (events, exceptions, flags) for
        # whoever may read the contract; its figures reveal no payload.
        contracts = contracts.sudo()
        anomaly_counts = contracts._psa_open_anomaly_counts()
        reasons = {
            "unapproved_time": contracts._psa_readiness_unapproved_time(),
            "open_exceptions": contracts._psa_readiness_open_exceptions(),
            "anomalies": {
                order_id: _("%s open anomaly flag(s)", count)
                for order_id, count in anomaly_counts.items()
            },
            "missing_rates": contracts._psa_readiness_missing_rates(),
        }
        for order in self:
            if order not in contracts:
                continue
            score, texts = 100, []
            for reason, found in reasons.items():
                text = found.get(order.id)
                if text:
                    score -= READINESS_PENALTIES[reason]
                    texts.append(text)
            order.psa_readiness_score = max(score, 0)
            order.psa_readiness_reasons = "\n".join(texts) or False
            order.psa_anomaly_count = anomaly_counts.get(order.id, 0)

    def _psa_contract_projects(self):
        """{order id: project} of the contracts that bill a project's time."""
        return {order.id: order.psa_project_id for order in self if order.psa_project_id}

    def _psa_readiness_unapproved_time(self):
        """Time the PSA holds for the contract's project but Odoo cannot bill yet.

        The latest version received of each time entry of the project, dated after the
        contract's last posted invoice and up to today: not approved in the PSA, or
        approved but still waiting (a missing reference) or not processed yet.
        """
        projects = self._psa_contract_projects()
        if not projects:
            return {}
        bindings = self.env["psa.binding"].search(
            [
                ("backend_id", "in", self.psa_backend_id.ids),
                ("external_type", "=", "project"),
                ("res_model", "=", "project.project"),
                ("res_id", "in", [p.id for p in projects.values()]),
            ]
        )
        external = defaultdict(list)
        for binding in bindings:
            external[(binding.backend_id.id, binding.res_id)].append(binding.external_id)
        keys = [
            (order.psa_backend_id.id, external_id)
            for order in self
            for external_id in external.get((order.psa_backend_id.id, order.psa_project_id.id), [])
        ]
        if not keys:
            return {}
        self.env["psa.event"].flush_model()
        self.env.cr.execute(
            """SELECT backend_id, state, data->>'project_id', data->>'state',
                      data->>'date', data->>'hours'
                 FROM (SELECT DISTINCT ON (e.backend_id, e.external_id)
                              e.backend_id, e.state, e.action,
                              e.payload::jsonb -> 'data' AS data
                         FROM psa_event e
                         JOIN unnest(%s::int[], %s::text[]) AS k(backend_id, project_ref)
                           ON e.backend_id = k.backend_id
                          -- a cheap pre-filter on the raw body before it is parsed
                          AND strpos(e.payload, k.project_ref) > 0
                        WHERE e.object_type = 'time_entry' AND e.state != 'failed'
                        ORDER BY e.backend_id, e.external_id, e.id DESC) latest
                WHERE latest.action != 'deleted'""",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        rows = self.env.cr.fetchall()
        today = fields.Date.context_today(self)
        found = defaultdict(lambda: [0, 0.0])
        by_key = defaultdict(list)
        for order in self:
            for external_id in external.get((order.psa_backend_id.id, order.psa_project_id.id), []):
                by_key[(order.psa_backend_id.id, external_id)].append(order)
        approved = {b.id: b._approved_time_states() for b in self.psa_backend_id}
        # The period still to invoice: after the last posted invoice's date.
        since = {}
        for order in self:
            dates = order.invoice_ids.filtered(lambda m: m.state == "posted").mapped("invoice_date")
            since[order.id] = max(d for d in dates if d) if any(dates) else None
        for backend_id, state, project_ref, time_state, day, hours in rows:
            if state == "ignored":
                continue  # finance decided about it
            if state in ("done", "skipped") and time_state in approved[backend_id]:
                continue  # approved and applied: billable
            try:
                day = fields.Date.to_date(day)
                hours = float(hours or 0.0)
            except (TypeError, ValueError):
                continue
            if not day or day > today:
                continue
            for order in by_key.get((backend_id, str(project_ref)), []):
                if since[order.id] and day <= since[order.id]:
                    continue
                found[order.id][0] += 1
                found[order.id][1] += hours
        return {
            order_id: _(
                "%(count)s time entries (%(hours).2f h) not approved or not applied yet",
                count=count,
                hours=hours,
            )
            for order_id, (count, hours) in found.items()
        }

    def _psa_readiness_open_exceptions(self):
        """Open exceptions naming the contract or its project (record or external id)."""
        projects = self._psa_contract_projects()
        project_refs = self.env["psa.binding"].search(
            [
                ("backend_id", "in", self.psa_backend_id.ids),
                ("external_type", "=", "project"),
                ("res_model", "=", "project.project"),
                ("res_id", "in", [p.id for p in projects.values()]),
            ]
        )
        domain = [
            ("backend_id", "in", self.psa_backend_id.ids),
            ("state", "in", ("open", "retrying")),
            "|",
            "|",
            "|",
            "&",
            ("res_model", "=", "sale.order"),
            ("res_id", "in", self.ids),
            "&",
            ("res_model", "=", "project.project"),
            ("res_id", "in", [p.id for p in projects.values()]),
            "&",
            ("object_type", "=", "contract"),
            ("external_id", "in", [r for r in self.mapped("psa_contract_ref") if r]),
            "&",
            ("object_type", "=", "project"),
            ("external_id", "in", project_refs.mapped("external_id")),
        ]
        exceptions = self.env["psa.exception"].search(domain)
        ref_to_project = {(b.backend_id.id, b.external_id): b.res_id for b in project_refs}
        counts = defaultdict(int)
        for exception in exceptions:
            for order in self.filtered(lambda o, e=exception: o.psa_backend_id == e.backend_id):
                if (
                    (exception.res_model == "sale.order" and exception.res_id == order.id)
                    or (
                        exception.res_model == "project.project"
                        and exception.res_id == order.psa_project_id.id
                    )
                    or (
                        exception.object_type == "contract"
                        and exception.external_id == order.psa_contract_ref
                    )
                    or (
                        exception.object_type == "project"
                        and ref_to_project.get((order.psa_backend_id.id, exception.external_id))
                        == order.psa_project_id.id
                    )
                ):
                    counts[order.id] += 1
        return {
            order_id: _("%s open exception(s) about the contract or its project", count)
            for order_id, count in counts.items()
        }

    def _psa_open_anomaly_counts(self):
        """{order id: open anomaly flags}, in one grouped query."""
        groups = self.env["psa.anomaly"]._read_group(
            [("sale_order_id", "in", self.ids), ("state", "=", "open")],
            ["sale_order_id"],
            ["__count"],
        )
        return {order.id: count for order, count in groups}

    def _psa_readiness_missing_rates(self):
        """Billable, uninvoiced time of the contract's project that no rate prices."""
        projects = self._psa_contract_projects()
        if not projects:
            return {}
        groups = self.env["account.analytic.line"]._read_group(
            [
                ("project_id", "in", [p.id for p in projects.values()]),
                ("psa_billable", "=", True),
                ("timesheet_invoice_id", "=", False),
                "|",
                ("so_line", "=", False),
                ("so_line.price_unit", "=", 0.0),
            ],
            ["project_id"],
            ["__count", "unit_amount:sum"],
        )
        by_project = {project.id: (count, hours) for project, count, hours in groups}
        result = {}
        for order_id, project in projects.items():
            if project.id in by_project:
                count, hours = by_project[project.id]
                result[order_id] = _(
                    "%(count)s billable line(s) (%(hours).2f h) without a rate on the rate card",
                    count=count,
                    hours=hours,
                )
        return result

    # Anomaly flags -------------------------------------------------------------------

    @requires_group(USER)
    def action_view_psa_anomalies(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_billing.action_psa_anomaly"
        )
        action["domain"] = [("sale_order_id", "=", self.id)]
        action["context"] = {"search_default_filter_open": 1}
        return action
