import json
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import date_utils

from odoo.addons.psa_connector_base.tools.access import MANAGER, USER, requires_group

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

        def send(adapter):
            for start in range(0, len(rows), FINANCIAL_CHUNK):
                adapter.push_project_financials(rows[start : start + FINANCIAL_CHUNK])

        _result, failure = self._run_remote(
            _("push of project financials"),
            send,
            object_type="project_financial",
            audit={
                "operation": "push",
                "message": _("financial summaries of %s project(s) sent", len(rows)),
            },
        )
        return failure or f"{len(rows)} project financial summaries sent"

    # Invoice status out ---------------------------------------------------------------

    def _enqueue_invoice_status(self, payload):
        self.ensure_one()
        # One job per invoice and state: a second post/payment hook in the same state
        # (or a replay of the transaction) does not queue a second push.
        key = ":".join(
            str(payload.get(k)) for k in ("odoo_id", "state", "payment_state", "amount_residual")
        )
        self._as_integration_user().with_delay(
            description=f"Tell {self.name}: invoice {payload['number']} {payload['payment_state']}",
            identity_key=f"psa.invoice_status:{self.id}:{key}",
        )._push_invoice_status_job(payload)

    def _push_invoice_status_job(self, payload):
        self.ensure_one()
        number = payload.get("number")
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
        return f"invoice {number} reported"
