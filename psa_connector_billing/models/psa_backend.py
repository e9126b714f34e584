import json
import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import date_utils

from odoo.addons.psa_connector_base.adapters.base import HttpAdapter
from odoo.addons.psa_connector_base.tools.access import (
    MANAGER,
    USER,
    requires_group,
    workflow_write,
)
from odoo.addons.queue_job.exception import RetryableJobError

_logger = logging.getLogger(__name__)

# Figures sent per project and month; months of history in a nightly summary; rows per POST.
FINANCIAL_FIGURES = (
    "revenue",
    "hours",
    "labour_cost",
    "expense_cost",
    "vendor_bill_cost",
    "cost",
    "margin",
    "margin_pct",
    "committed_cost",
    "wip",
    "backlog",
)
FINANCIAL_MONTHS = 12
FINANCIAL_CHUNK = 200


def _figures(values):
    figures = {name: round(values.get(name) or 0.0, 2) for name in FINANCIAL_FIGURES}
    if not values.get("revenue"):
        figures["margin_pct"] = None
    return figures


class PsaBackend(models.Model):
    _inherit = "psa.backend"

    billing_invoice_on_event = fields.Boolean(
        string="Draft invoice on billing events",
        default=True,
        help="Create a draft invoice as soon as a billing event makes something "
        "invoiceable. Otherwise drafts wait for the scheduled 'Create draft invoices'.",
    )
    billing_auto_post_kinds = fields.Char(
        string="Auto-post event kinds",
        help="Comma-separated billing event kinds whose invoice is posted right away "
        "(e.g. retainer.period). Every other invoice stays a draft for finance.",
    )
    billing_milestone_trigger = fields.Selection(
        [("accepted", "Accepted by the client"), ("completed", "Completed")],
        string="Bill milestones when",
        default="accepted",
        required=True,
    )
    billing_push_financials = fields.Boolean(
        string="Push project financials",
        help="Every night, send the PSA each bound project's financial summary (revenue, "
        "cost, margin, commitments, WIP, backlog, and the last months).",
    )
    billing_require_service_mapping = fields.Boolean(
        string="Require service mapping",
        help="Every rate card entry, and every service item a contract or billing event "
        "names, must map to a product of the service catalogue; an unmapped one stops at "
        "the exception queue (Map and retry) and no order line is created. Off: "
        "unmapped ones use the connector's generic service products.",
    )
    service_mapping_ids = fields.One2many(
        "psa.service.mapping",
        "backend_id",
        string="Service catalogue",
        context={"active_test": False},
    )
    tax_mapping_ids = fields.One2many(
        "psa.tax.mapping", "backend_id", string="Tax mapping", context={"active_test": False}
    )
    contract_count = fields.Integer(compute="_compute_contract_count")
    anomaly_hours_factor = fields.Float(
        string="Flag days above normal (factor)",
        default=1.5,
        help="A day's hours are flagged when they exceed the employee's normal day (the "
        "median of their own daily hours over the history window) times this factor. "
        "0 turns the check off.",
    )
    anomaly_history_weeks = fields.Integer(
        string="History window (weeks)",
        default=8,
        help="How many weeks before the day make up the employee's normal day.",
    )
    anomaly_min_history_days = fields.Integer(
        string="Minimum history (days)",
        default=10,
        help="Below this many days with time in the window, the employee has no normal "
        "day yet (newcomers, part-timers returning) and their hours are not flagged.",
    )

    def _compute_contract_count(self):
        # A count reveals nothing, and finance users without sales rights must still be
        # able to read the backend (its form, the exception queue's filters).
        counts = dict(
            self.env["sale.order"]
            .sudo()
            ._read_group([("psa_backend_id", "in", self.ids)], ["psa_backend_id"], ["__count"])
        )
        for backend in self:
            backend.contract_count = counts.get(backend.sudo(), 0)

    def _billing_auto_post_kinds(self):
        self.ensure_one()
        return {k.strip() for k in (self.billing_auto_post_kinds or "").split(",") if k.strip()}

    def _pull_object_types(self):
        types = super()._pull_object_types()
        if self.kind == "psa":
            # Contracts need projects; billing events and expenses need contracts;
            # vendor bills need their purchase.
            types += ["contract", "billing_event", "expense", "purchase", "vendor_bill"]
        return types

    # Draft invoices -------------------------------------------------------------------

    @api.model
    def _cron_create_draft_invoices(self):
        # Root only finds every company's backends; each one's invoices are drafted by its
        # company's integration user.
        for backend in self.search([("kind", "=", "psa")]):
            backend._as_integration_user()._create_draft_invoices()

    @requires_group(MANAGER)
    def action_create_draft_invoices(self):
        """Draft invoices for every PSA contract with something to invoice."""
        invoices = self._create_draft_invoices()
        return {
            "type": "ir.actions.act_window",
            "name": _("Draft invoices"),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("id", "in", invoices.ids)],
        }

    def _create_draft_invoices(self):
        """The drafting itself: the Connector Manager's button and the nightly cron (as
        the integration user, who is no manager) both come here."""
        invoices = self.env["account.move"]
        self._price_unpriced_time()
        orders = self.env["sale.order"].search(
            [
                ("psa_backend_id", "in", self.ids),
                ("state", "=", "sale"),
                ("invoice_status", "=", "to invoice"),
            ]
        )
        for order in orders:
            try:
                with self.env.cr.savepoint():
                    invoices |= order._psa_create_draft_invoices()
            except UserError as err:
                # One order Odoo refuses to invoice must not hold back the others.
                _logger.warning("No draft invoice for %s: %s", order.name, err)
        return invoices

    def _price_unpriced_time(self):
        """Attach billable, unbilled time that has no sale line yet to its contract's lines.

        Time and tasks can reach Odoo before their contract in any order; whatever the
        order, this runs before invoicing so no approved billable hour is left out.
        """
        projects = self.env["sale.order"].search(
            [("psa_backend_id", "in", self.ids), ("state", "=", "sale")]
        ).mapped("order_line.project_id") | self.env["project.project"].search(
            [("sale_line_id.order_id.psa_backend_id", "in", self.ids)]
        )
        if not projects:
            return
        tasks = self.env["project.task"].search(
            [("project_id", "in", projects.ids), ("sale_line_id", "=", False)]
        )
        tasks._compute_sale_line()
        self.env["account.analytic.line"].search(
            [
                ("project_id", "in", projects.ids),
                ("so_line", "=", False),
                ("psa_billable", "=", True),
                ("is_so_line_edited", "=", False),
                ("timesheet_invoice_id", "=", False),
            ]
        )._compute_so_line()

    @requires_group(USER)
    def action_view_contracts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_billing.action_psa_contract"
        )
        action["domain"] = [("psa_backend_id", "=", self.id)]
        return action

    # Project financials out -----------------------------------------------------------

    @api.model
    def _cron_push_project_financials(self):
        # Root only finds every company's backends and queues; the jobs run as integration users.
        today = fields.Date.context_today(self)
        for backend in self.search([("kind", "=", "psa"), ("billing_push_financials", "=", True)]):
            # One push per backend and day, however often the cron or a user triggers it.
            backend._as_integration_user().with_delay(
                description=f"Tell {backend.name}: project financials of {today}",
                identity_key=f"psa.project_financials:{backend.id}:{today}",
            )._push_project_financials_job()

    def _project_financial_rows(self, months=FINANCIAL_MONTHS):
        """One summary per project bound to this backend (``schemas/project_financial.json``)."""
        self.ensure_one()
        bindings = self.env["psa.binding"].search(
            [
                ("backend_id", "=", self.id),
                ("external_type", "=", "project"),
                ("res_model", "=", "project.project"),
            ]
        )
        external = {binding.res_id: binding.external_id for binding in bindings}
        if not external:
            return []
        Financial = self.env["psa.project.financial"]
        domain = [("project_id", "in", list(external)), ("company_id", "=", self.company_id.id)]
        totals = Financial._totals(domain)
        today = fields.Date.context_today(self)
        since = date_utils.subtract(date_utils.start_of(today, "month"), months=months - 1)
        monthly = {}
        for row in Financial.search_read(
            [*domain, ("date", ">=", since)],
            ["project_id", "date", *FINANCIAL_FIGURES],
            order="date",
        ):
            monthly.setdefault(row["project_id"][0], []).append(
                {"month": row["date"].strftime("%Y-%m"), **_figures(row)}
            )
        currency = self.company_id.currency_id.name
        return [
            {
                "project_id": external[project_id],
                "odoo_project_id": project_id,
                "as_of": str(today),
                "currency": currency,
                **_figures(figures),
                "months": monthly.get(project_id, []),
            }
            for project_id, figures in sorted(totals.items())
            if project_id in external
        ]

    @requires_group(MANAGER)
    def action_push_project_financials(self):
        for backend in self:
            backend._as_integration_user().with_delay(
                description=f"Tell {backend.name}: project financials",
                identity_key=f"psa.project_financials:{backend.id}:manual",
            )._push_project_financials_job()

    def _push_project_financials_job(self):
        self.ensure_one()
        rows = self._project_financial_rows()
        if not rows:
            return "no bound project has figures"

        failure = self._push_rows_in_chunks(
            rows,
            "push_project_financials",
            _("push of project financials"),
            "project_financial",
            _("financial summaries of %s project(s) sent", len(rows)),
        )
        return failure or f"{len(rows)} project financial summaries sent"

    def _push_rows_in_chunks(self, rows, adapter_method, what, object_type, message):
        """Send ``rows`` through the adapter's ``adapter_method`` (a name fixed in this
        code), FINANCIAL_CHUNK rows a call, as one audited remote run; None or the failure."""

        def send(adapter):
            push = getattr(adapter, adapter_method)
            for start in range(0, len(rows), FINANCIAL_CHUNK):
                push(rows[start : start + FINANCIAL_CHUNK])

        _result, failure = self._run_remote(
            what,
            send,
            object_type=object_type,
            audit={"operation": "push", "message": message},
        )
        return failure

    # Account health out ---------------------------------------------------------------

    def _account_health_binding_types(self):
        """External types a customer (res.partner) is bound under, on any backend kind."""
        return ("customer", "company")

    def _supports_account_health(self):
        """Whether this backend's adapter implements ``push_account_health``."""
        self.ensure_one()
        adapter_class = self._adapter_class()
        method = getattr(adapter_class, "push_account_health", None)
        return method is not None and method is not HttpAdapter.push_account_health

    @api.model
    def _cron_push_account_health(self):
        # Root only finds every company's backends and queues; the jobs run as integration
        # users. Every active PSA or CRM backend whose adapter receives account health.
        today = fields.Date.context_today(self)
        for backend in self.search([("kind", "in", ("psa", "crm"))]):
            if not backend._supports_account_health():
                continue
            # One push per backend and day, however often the cron runs.
            backend._as_integration_user().with_delay(
                description=f"Tell {backend.name}: account health of {today}",
                identity_key=f"psa.account_health:{backend.id}:{today}",
            )._push_account_health_job()

    def _account_health_rows(self):
        """One row per customer bound to this backend with invoices in its company.

        The fixed contract (``schemas/account_health.json``): the customer's external id
        on this backend, its status, open and overdue receivable, DSO, currency, as of.
        Customers without a binding on this backend are not sent.
        """
        self.ensure_one()
        bindings = self.env["psa.binding"].search(
            [
                ("backend_id", "=", self.id),
                ("external_type", "in", self._account_health_binding_types()),
                ("res_model", "=", "res.partner"),
            ],
            order="id",
        )
        external = {}
        for binding in bindings:
            external.setdefault(binding.res_id, binding.external_id)
        if not external:
            return []
        self.env.flush_all()
        health = self.env["psa.account.health"].search(
            [("partner_id", "in", list(external)), ("company_id", "=", self.company_id.id)],
            order="partner_id",
        )
        today = str(fields.Date.context_today(self))
        return [
            {
                "customer_id": external[row.partner_id.id],
                "status": row.status,
                "open_receivable": round(row.open_receivable, 2),
                "overdue_receivable": round(row.overdue_receivable, 2),
                "dso": round(row.dso, 1),
                "currency": row.currency_id.name,
                "as_of": today,
            }
            for row in health
        ]

    @requires_group(MANAGER)
    def action_push_account_health(self):
        for backend in self:
            if not backend._supports_account_health():
                raise UserError(_("%s does not receive customers' account health.", backend.name))
            backend._as_integration_user().with_delay(
                description=f"Tell {backend.name}: account health",
                identity_key=f"psa.account_health:{backend.id}:manual",
            )._push_account_health_job()

    def _push_account_health_job(self):
        self.ensure_one()
        if not self._supports_account_health():
            return "the adapter does not receive account health"
        rows = self._account_health_rows()
        if not rows:
            return "no bound customer has invoices"

        failure = self._push_rows_in_chunks(
            rows,
            "push_account_health",
            _("push of account health"),
            "account_health",
            _("account health of %s customer(s) sent", len(rows)),
        )
        return failure or f"{len(rows)} customers' account health sent"

    # Invoice status out ---------------------------------------------------------------

    def _enqueue_invoice_status(self, move, sequence):
        self.ensure_one()
        # One job per invoice and state: a second post/payment hook in the same state
        # (or a replay of the transaction) does not queue a second push. The job reads
        # the invoice when it runs; the key only names what changed.
        key = ":".join(
            str(v) for v in (move.id, move.state, move.payment_state, move.amount_residual)
        )
        self._as_integration_user().with_delay(
            description=f"Tell {self.name}: invoice {move.name} {move.payment_state}",
            identity_key=f"psa.invoice_status:{self.id}:{key}",
        )._push_invoice_status_job(move.id, sequence)

    def _invoice_status_binding(self, move):
        """The binding that remembers the last status sequence sent for ``move``, locked.

        Keyed by invoice number (the PSA's key for an invoice status); its
        ``external_version`` is the sequence of the last push the PSA accepted.
        """
        Binding = self.env["psa.binding"]
        binding = Binding.search(
            [
                ("backend_id", "=", self.id),
                ("external_type", "=", "invoice"),
                ("res_model", "=", "account.move"),
                ("res_id", "=", move.id),
            ],
            limit=1,
        )
        if not binding:
            # The push's own binding, to the invoice it was queued for: a workflow write.
            # Two first pushes of one invoice at once: the second's insert waits for the
            # first to commit and then violates the binding's unique key; it is retried
            # and finds the binding (and its sequence) the first one recorded.
            try:
                with workflow_write(), self.env.cr.savepoint():
                    binding = Binding.create(
                        {
                            "backend_id": self.id,
                            "external_type": "invoice",
                            "external_id": move.name,
                            "res_model": "account.move",
                            "res_id": move.id,
                        }
                    )
            except psycopg2.errors.UniqueViolation as err:
                raise RetryableJobError(
                    f"invoice {move.name}: another push is recording its first status",
                    seconds=2,
                ) from err
        # Two pushes of one invoice running at once: the second waits here for the
        # first to commit, then fails to serialize and is retried by queue_job.
        self.env.cr.execute("SELECT id FROM psa_binding WHERE id = %s FOR UPDATE", [binding.id])
        return binding

    def _push_invoice_status_job(self, move_id, sequence=None):
        """Send invoice ``move_id``'s state as it is now, numbered ``sequence``.

        Refuses (logged, no error) a sequence older than the last one sent: an old
        push retried after a newer one must not overwrite it in the PSA.
        """
        self.ensure_one()
        if isinstance(move_id, dict):
            # A job queued before pushes were ordered carried the payload itself.
            move_id, sequence = move_id.get("odoo_id"), 0
        move = self.env["account.move"].browse(move_id).exists()
        if not move or not move.name or move.name == "/":
            return "invoice gone or not numbered: nothing to report"
        orders = move._psa_contract_orders().filtered(lambda o: o.psa_backend_id == self)
        if not orders:
            return f"invoice {move.name} bills no contract of this backend any more"
        sequence = sequence or 0
        binding = self._invoice_status_binding(move)
        if binding.external_version and sequence <= binding.external_version:
            _logger.info(
                "Invoice %s: status push #%s skipped, #%s was already sent to %s",
                move.name,
                sequence,
                binding.external_version,
                self.name,
            )
            return f"invoice {move.name}: push #{sequence} older than #{binding.external_version} sent, skipped"
        payload = move._psa_status_payload(orders, sequence)
        failure = self._send_invoice_status(payload)
        if failure:
            return failure
        number = payload["number"]
        with workflow_write():
            binding.write(
                {
                    "external_id": number,
                    "external_version": sequence,
                    "last_sync_date": fields.Datetime.now(),
                }
            )
        return f"invoice {number} reported (#{sequence})"

    def _send_invoice_status(self, payload):
        """Send one invoice status payload through the adapter; None, or the failure."""
        self.ensure_one()
        number = payload["number"]
        _result, failure = self._run_remote(
            _("report of invoice %s", number),
            lambda adapter: adapter.push_invoice_status(payload),
            object_type="invoice",
            external_id=number,
            payload=json.dumps(payload),
            audit={
                "operation": "push",
                "res_model": "account.move",
                "res_id": payload.get("odoo_id"),
                "message": _(
                    "invoice %(number)s reported %(state)s/%(payment)s",
                    number=number,
                    state=payload.get("state"),
                    payment=payload.get("payment_state"),
                ),
                "values": payload,
            },
        )
        if failure:
            # Reached only on the last attempt: keep what was to be sent with the
            # exception, so finance sees it and a retry can send it again. sudo: the
            # payload is the exception's workflow field; the row is the one this job just
            # recorded (a fixed domain), the value this job's own payload.
            self.env["psa.exception"].sudo().search(
                [
                    ("backend_id", "=", self.id),
                    ("object_type", "=", "invoice"),
                    ("external_id", "=", number),
                    ("state", "=", "open"),
                ],
                order="id desc",
                limit=1,
            ).payload = json.dumps(payload, indent=2)
            return failure
        return None
