from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

# Month flows copied from psa.project.financial's row of the month.
FLOWS = (
    "revenue",
    "hours",
    "labour_cost",
    "expense_cost",
    "vendor_bill_cost",
    "cost",
    "margin",
)
# Balances: psa.project.financial places today's balances in the month they arose; at
# close, what is open at the month's end is their sum over the months up to it.
BALANCES = ("committed_cost", "wip", "backlog")
# Filled by the month-end close (revenue recognition, deferrals) once, after the freeze.
FILLABLE = ("revenue_recognised", "deferred_balance")


class PsaProjectFinancialSnapshot(models.Model):
    """Project financials of a closed month, frozen: last month's report does not move
    when this month's work arrives.

    Written only by the connector (``_psa_freeze``, called by the month-end close);
    read by whoever reads the project financials. A month, once frozen for a company,
    never changes: freezing it again returns the same rows.
    """

    _name = "psa.project.financial.snapshot"
    _description = "PSA Connector Month-end Project Financials Snapshot"
    _order = "date desc, company_id, project_id"
    _rec_name = "project_id"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    date = fields.Date(
        string="Month", required=True, readonly=True, index=True, help="First day of the month."
    )
    project_id = fields.Many2one("project.project", required=True, readonly=True, index=True)
    account_id = fields.Many2one(
        "account.analytic.account", string="Analytic account", readonly=True
    )
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    currency_id = fields.Many2one(
        "res.currency", required=True, readonly=True, help="The company's currency."
    )
    revenue = fields.Monetary(
        string="Revenue invoiced",
        readonly=True,
        help="Posted customer invoice lines of the month on the project's analytic account.",
    )
    revenue_recognised = fields.Monetary(
        readonly=True,
        help="Revenue recognised in the month by the month-end close (accruals, deferrals, "
        "percentage of completion); 0 when the close recognised nothing.",
    )
    hours = fields.Float(string="Hours worked", readonly=True)
    labour_cost = fields.Monetary(readonly=True)
    expense_cost = fields.Monetary(string="Expenses", readonly=True)
    vendor_bill_cost = fields.Monetary(string="Vendor bills", readonly=True)
    cost = fields.Monetary(readonly=True, help="Labour, expenses and vendor bills of the month.")
    margin = fields.Monetary(readonly=True, help="Revenue invoiced less cost, for the month.")
    margin_pct = fields.Float(
        string="Margin (%)", readonly=True, aggregator="avg", help="Margin over revenue invoiced."
    )
    committed_cost = fields.Monetary(
        readonly=True,
        help="Approved purchase orders not billed, from orders up to the month's end, "
        "as known when the month was frozen.",
    )
    wip = fields.Monetary(
        string="WIP",
        readonly=True,
        help="Work in progress at the month's end (approved time and delivered milestones "
        "up to then, not on a posted invoice), as known when the month was frozen.",
    )
    backlog = fields.Monetary(
        readonly=True,
        help="Contract value not invoiced, of contracts up to the month's end, as known "
        "when the month was frozen.",
    )
    deferred_balance = fields.Monetary(
        readonly=True,
        help="Revenue invoiced ahead of delivery and not recognised at the month's end "
        "(filled by the month-end close).",
    )
    budget_hours = fields.Float(
        readonly=True, help="The project's budgeted hours (allocated time) when frozen."
    )
    budget_amount = fields.Monetary(
        readonly=True, help="The project's budget amount from the PSA when frozen."
    )
    frozen_on = fields.Datetime(readonly=True, help="When the month was frozen.")

    _sql_constraints = [
        (
            "month_project_unique",
            "unique(company_id, date, project_id)",
            "A project's month is frozen once per company.",
        ),
    ]

    @api.model
    def _psa_freeze(self, company, month_start):
        """Freeze the project financials of ``company`` for the month of ``month_start``.

        Idempotent: a month already frozen for the company is returned as it is, never
        recomputed. Returns the snapshot rows of that month (as the caller's user).
        """
        company.ensure_one()
        if not self.env.su and company not in self.env.user.company_ids:
            raise AccessError(_("You cannot close the books of %s.", company.name))
        month = fields.Date.to_date(month_start).replace(day=1)
        Snapshot = self.sudo()
        # Two closes of the same month at once: the second waits and finds the first's.
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            (f"psa.project.financial.snapshot:{company.id}:{month}",),
        )
        existing = Snapshot.search([("company_id", "=", company.id), ("date", "=", month)])
        if existing:
            return self.browse(existing.ids)
        self.env.flush_all()
        # A database view: what the cache holds of it may predate the flushed writes.
        self.env["psa.project.financial"].invalidate_model()
        rows = (
            self.env["psa.project.financial"]
            .sudo()
            .search_read(
                [("company_id", "=", company.id), ("date", "<=", month)],
                ["project_id", "account_id", "partner_id", "date", *FLOWS, *BALANCES],
            )
        )
        figures = defaultdict(lambda: defaultdict(float))
        heads = {}
        for row in rows:
            project_id = row["project_id"][0]
            heads.setdefault(project_id, row)
            target = figures[project_id]
            if row["date"] == month:
                for name in FLOWS:
                    target[name] += row[name] or 0.0
            for name in BALANCES:
                target[name] += row[name] or 0.0
        currency = company.currency_id
        now = fields.Datetime.now()
        values = []
        for project_id, target in figures.items():
            if all(currency.is_zero(value) for value in target.values()):
                continue
            head = heads[project_id]
            project = self.env["project.project"].sudo().browse(project_id)
            revenue = target["revenue"]
            values.append(
                {
                    "company_id": company.id,
                    "date": month,
                    "project_id": project_id,
                    "account_id": head["account_id"] and head["account_id"][0],
                    "partner_id": head["partner_id"] and head["partner_id"][0],
                    "currency_id": currency.id,
                    **{name: target[name] for name in (*FLOWS, *BALANCES)},
                    "margin_pct": 100.0 * target["margin"] / revenue if revenue else 0.0,
                    "budget_hours": project.allocated_hours,
                    "budget_amount": project.psa_budget_amount,
                    "frozen_on": now,
                }
            )
        return self.browse(Snapshot.create(values).ids)

    def write(self, vals):
        """Frozen: only the close's own columns may be filled, once (from 0)."""
        if set(vals) - set(FILLABLE):
            raise UserError(_("A month-end snapshot is frozen; its figures never change."))
        for record in self:
            for name in vals:
                if not record.currency_id.is_zero(record[name]):
                    raise UserError(
                        _("A month-end snapshot is frozen; %s is already filled.", name)
                    )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(_("A month-end snapshot is frozen; it cannot be deleted."))
