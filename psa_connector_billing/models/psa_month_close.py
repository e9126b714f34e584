from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.psa_connector_base.tools.access import requires_group
from odoo.addons.queue_job.exception import RetryableJobError

# Who reads a month close (access rights) and who closes a month.
ACCOUNTANT = "account.group_account_invoice"
ACCOUNTING_MANAGER = "account.group_account_manager"

CUTOFF_TYPES = ("accrued_revenue", "prepaid_revenue")


class PsaMonthClose(models.Model):
    """Close the month: the controller's checklist, then the closing entries.

    One per company and month. Generate (re)builds the month's connector cut-offs (OCA
    ``account.cutoff``: accrued revenue = WIP and percent-complete revenue earned but not
    invoiced; prepaid revenue = retainers and over-the-period contracts invoiced ahead,
    and percent-complete contracts invoiced ahead of completion) and their draft entries,
    dated on the month's last day and reversed on the next month's first day. Post posts
    them and freezes the month's project financials. A posted close is never changed:
    whatever arrives later lands in the open month.
    """

    _name = "psa.month.close"
    _description = "PSA month close"
    _inherit = ["mail.thread"]
    _order = "month desc, company_id"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    month = fields.Date(
        required=True,
        help="Any day of the month to close; stored as its first day.",
    )
    date_to = fields.Date(string="Month end", compute="_compute_name", store=True)
    state = fields.Selection(
        [("draft", "Draft"), ("generated", "Generated"), ("posted", "Posted")],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        copy=False,
        help="Draft: nothing generated. Generated: draft closing entries exist (Generate "
        "again rebuilds them). Posted: the entries are posted and the month's financials "
        "frozen; nothing changes any more.",
    )
    cutoff_ids = fields.One2many(
        "account.cutoff", "psa_month_close_id", string="Cut-offs", readonly=True
    )
    move_ids = fields.Many2many(
        "account.move", compute="_compute_figures", string="Closing entries"
    )
    accrued_amount = fields.Monetary(
        string="Accrued revenue", compute="_compute_figures", currency_field="currency_id"
    )
    deferred_amount = fields.Monetary(
        string="Deferred revenue", compute="_compute_figures", currency_field="currency_id"
    )
    draft_entry_count = fields.Integer(string="Draft closing entries", compute="_compute_figures")
    exception_count = fields.Integer(
        string="Open exceptions",
        compute="_compute_checklist",
        help="Open exceptions of the company's backends received up to the month end.",
    )
    unapplied_time_count = fields.Integer(
        string="Time not applied",
        compute="_compute_checklist",
        help="Time entry events received up to the month end that are not applied yet "
        "(pending, waiting for a reference or failed): time the accrual cannot count.",
    )
    time_difference_count = fields.Integer(
        string="Time differences",
        compute="_compute_checklist",
        help="Project-days that differ in the latest time reconciliation covering the month.",
    )
    money_difference_count = fields.Integer(
        string="Money differences",
        compute="_compute_checklist",
        help="Unresolved PSA-vs-Odoo money differences in the month (money reconciliation).",
    )
    snapshot_count = fields.Integer(string="Frozen financials", readonly=True, copy=False)
    note = fields.Html()

    _sql_constraints = [
        ("company_month_uniq", "unique(company_id, month)", "This month already has a close."),
    ]

    @api.depends("month", "company_id")
    def _compute_name(self):
        for close in self:
            close.name = f"{close.company_id.name} {close.month:%Y-%m}" if close.month else False
            close.date_to = close.month and close.month + relativedelta(day=31)

    @api.model_create_multi
    def create(self, vals_list):
        self._psa_check_manager()
        for vals in vals_list:
            vals.pop("state", None)
            if vals.get("month"):
                vals["month"] = fields.Date.to_date(vals["month"]).replace(day=1)
        return super().create(vals_list)

    def write(self, vals):
        if "state" in vals and not self.env.context.get("psa_month_close_step"):
            raise UserError(_("A month close changes state only through its buttons."))
        if {"month", "company_id"} & set(vals) and any(c.state != "draft" for c in self):
            raise UserError(_("The month and company of a generated close are fixed."))
        if vals.get("month"):
            vals["month"] = fields.Date.to_date(vals["month"]).replace(day=1)
        return super().write(vals)

    def unlink(self):
        if any(close.state == "posted" for close in self):
            raise UserError(_("A posted month close cannot be deleted."))
        self._psa_check_manager()
        for close in self.sudo():
            close._psa_drop_drafts()
            close.cutoff_ids.unlink()
        return super().unlink()

    # Figures and checklist ----------------------------------------------------------

    @api.depends("cutoff_ids.move_id", "cutoff_ids.line_ids.cutoff_amount")
    def _compute_figures(self):
        for close in self:
            # OCA cut-offs are for "full accounting" users; the close shows its figures
            # to every accountant of the company.
            cutoffs = close.sudo().cutoff_ids
            moves = cutoffs.move_id | cutoffs.move_reversal_id
            close.move_ids = moves.ids
            close.draft_entry_count = len(moves.filtered(lambda m: m.state == "draft"))
            close.accrued_amount = sum(
                cutoffs.filtered(lambda c: c.cutoff_type == "accrued_revenue").mapped(
                    "total_cutoff_amount"
                )
            )
            close.deferred_amount = -sum(
                cutoffs.filtered(lambda c: c.cutoff_type == "prepaid_revenue").mapped(
                    "total_cutoff_amount"
                )
            )

    def _compute_checklist(self):
        Exception_ = self.env["psa.exception"].sudo()
        Event = self.env["psa.event"].sudo()
        for close in self:
            if not close.month:
                close.exception_count = close.unapplied_time_count = 0
                close.time_difference_count = close.money_difference_count = 0
                continue
            end = close.date_to
            next_day = fields.Datetime.to_datetime(end + relativedelta(days=1))
            company = close.company_id
            close.exception_count = Exception_.search_count(
                [
                    ("company_id", "=", company.id),
                    ("state", "in", ("open", "retrying")),
                    ("create_date", "<", next_day),
                ]
            )
            close.unapplied_time_count = Event.search_count(
                [
                    ("company_id", "=", company.id),
                    ("object_type", "=", "time_entry"),
                    ("state", "in", ("pending", "waiting", "failed")),
                    ("create_date", "<", next_day),
                ]
            )
            close.time_difference_count = close._psa_time_differences()
            close.money_difference_count = close._psa_money_differences()

    def _psa_time_differences(self):
        if "psa.timesheet.reconciliation" not in self.env:
            return 0
        runs = (
            self.env["psa.timesheet.reconciliation"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company_id.id),
                    ("date_from", "<=", self.date_to),
                    ("date_to", ">=", self.month),
                ],
                order="id desc",
            )
        )
        latest = {}
        for run in runs:
            latest.setdefault(run.backend_id, run)
        return sum(run.difference_count for run in latest.values())

    def _psa_money_differences(self):
        if "psa.money.reconciliation" not in self.env:
            return 0
        return int(
            self.env["psa.money.reconciliation"]._psa_open_differences(
                self.company_id, self.month, self.date_to
            )
            or 0
        )

    # Buttons --------------------------------------------------------------------------

    def _psa_check_manager(self):
        if not self.env.su and not self.env.user.has_group(ACCOUNTING_MANAGER):
            raise AccessError(_("Only accounting managers may close a month."))

    @requires_group(ACCOUNTING_MANAGER)
    def action_generate(self):
        """Build (or rebuild) the month's cut-offs and their draft closing entries."""
        self._psa_check_manager()
        for close in self:
            if close.state == "posted":
                raise UserError(
                    _(
                        "%(name)s is posted: its closing entries never change. A late "
                        "change is taken by the next month's close.",
                        name=close.name,
                    )
                )
            if close.month >= fields.Date.context_today(close).replace(day=1):
                raise UserError(_("Only a month that has ended can be closed."))
            close._psa_generate()
            close.with_context(psa_month_close_step=True).write({"state": "generated"})
            close.message_post(
                body=_(
                    "Closing entries generated: accrued %(accrued)s, deferred %(deferred)s.",
                    accrued=close.accrued_amount,
                    deferred=close.deferred_amount,
                )
            )
        return True

    def _psa_price_unpriced_time(self):
        """Attach the company's unpriced billable time to its contracts first (as
        invoicing does, psa.backend._price_unpriced_time): time and tasks applied by
        parallel workers may have landed before their contract's link was visible to
        them, and unpriced time would be missing from the accrual."""
        Mapping = self.env["psa.entity.mapping"]
        for backend in self.env["psa.backend"].sudo().search([("kind", "=", "psa")]):
            if self.company_id in Mapping._companies_of(backend):
                backend._as_integration_user()._price_unpriced_time()

    def _psa_generate(self):
        """The cut-offs of the close (an accounting manager checked by the caller): OCA
        cut-offs need the technical "full accounting" group, which Community's
        accounting managers lack, so they run as superuser, on this close's own records
        and company only."""
        self.ensure_one()
        self._psa_price_unpriced_time()
        close = self.sudo().with_company(self.company_id)
        close._psa_drop_drafts()
        close._psa_ensure_cutoff_setup()
        for cutoff_type in CUTOFF_TYPES:
            cutoff = close.cutoff_ids.filtered(lambda c, t=cutoff_type: c.cutoff_type == t)
            if not cutoff:
                cutoff = close._psa_new_cutoff(cutoff_type)
            cutoff.get_lines()
            if cutoff.line_ids:
                cutoff.create_move()
                # Draft at Generate whatever the company's "post cut-off entries"
                # says: the controller posts them with Post.
                moves = cutoff.move_id | cutoff.move_id.reversal_move_ids
                moves.filtered(lambda m: m.state == "posted").button_draft()

    @requires_group(ACCOUNTING_MANAGER)
    def action_post(self):
        """Post the closing entries and their reversals; freeze the month's financials."""
        self._psa_check_manager()
        for close in self:
            if close.state != "generated":
                raise UserError(_("Generate the closing entries before posting them."))
            moves = close.sudo().cutoff_ids.move_id
            (moves | moves.reversal_move_ids).filtered(lambda m: m.state == "draft")._post(
                soft=False
            )
            snapshots = 0
            if "psa.project.financial.snapshot" in self.env:
                frozen = self.env["psa.project.financial.snapshot"]._psa_freeze(
                    close.company_id, close.month
                )
                close._psa_fill_recognition(frozen)
                snapshots = len(frozen)
            close.with_context(psa_month_close_step=True).write(
                {"state": "posted", "snapshot_count": snapshots}
            )
            close.message_post(body=_("Closing entries posted; month closed."))
        return True

    def _psa_cutoff_by_account(self):
        """{analytic account id: (accrued, deferred)} of this close's cut-off lines, in
        company currency (deferred as a positive amount)."""
        result = {}
        for cutoff in self.sudo().cutoff_ids:
            sign = 1 if cutoff.cutoff_type == "accrued_revenue" else -1
            for line in cutoff.line_ids:
                for account_id, share in (line.analytic_distribution or {}).items():
                    accrued, deferred = result.get(int(account_id), (0.0, 0.0))
                    amount = sign * line.cutoff_amount * share / 100.0
                    if cutoff.cutoff_type == "accrued_revenue":
                        accrued += amount
                    else:
                        deferred += amount
                    result[int(account_id)] = (accrued, deferred)
        return result

    def _psa_fill_recognition(self, snapshots):
        """Revenue recognised in the month and the deferred balance at its end, per
        project, into the month's frozen snapshots.

        Recognised = invoiced in the month + accrued at its end - accrued at the previous
        month's end (reversed on the 1st) - deferred at its end + deferred at the
        previous month's end (released on the 1st); the previous month counts when the
        connector closed it.
        """
        self.ensure_one()
        current = self._psa_cutoff_by_account()
        previous_close = self.search(
            [
                ("company_id", "=", self.company_id.id),
                ("month", "=", self.month - relativedelta(months=1)),
                ("state", "=", "posted"),
            ]
        )
        previous = previous_close._psa_cutoff_by_account() if previous_close else {}
        for snapshot in snapshots.sudo():
            accrued, deferred = current.get(snapshot.account_id.id, (0.0, 0.0))
            accrued_before, deferred_before = previous.get(snapshot.account_id.id, (0.0, 0.0))
            values = {
                "revenue_recognised": snapshot.currency_id.round(
                    snapshot.revenue + accrued - accrued_before - deferred + deferred_before
                ),
                "deferred_balance": snapshot.currency_id.round(deferred),
            }
            values = {
                name: value
                for name, value in values.items()
                if not snapshot.currency_id.is_zero(value)
                and snapshot.currency_id.is_zero(snapshot[name])
            }
            if values:
                snapshot.write(values)

    @requires_group(ACCOUNTANT, ACCOUNTING_MANAGER)
    def action_view_moves(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("account.action_move_journal_line")
        action.update(domain=[("id", "in", self.move_ids.ids)], context={})
        return action

    @requires_group(ACCOUNTANT, ACCOUNTING_MANAGER)
    def action_view_cutoff_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "account_cutoff_base.account_cutoff_line_action"
        )
        action.update(domain=[("parent_id", "in", self.sudo().cutoff_ids.ids)], views=False)
        return action

    @api.model
    def _psa_job_close_month(self, company_ids, month, post=True):
        """Queue job (the demo's November close, or a scheduled close): once the
        connector's own jobs are idle (none due in the next minutes) and the month has
        billable time of PSA contracts, close ``month`` for each
        company with PSA contracts, as the user who queued it (an accounting manager)."""
        month = fields.Date.to_date(month).replace(day=1)
        busy = (
            self.env["queue.job"]
            .sudo()
            .search_count(
                [
                    ("state", "in", ("pending", "enqueued", "started")),
                    ("method_name", "!=", "_psa_job_close_month"),
                    "|",
                    ("eta", "=", False),
                    ("eta", "<=", fields.Datetime.add(fields.Datetime.now(), minutes=5)),
                ]
            )
        )
        companies = self.env["res.company"].browse(company_ids).exists()
        has_time = (
            self.env["account.analytic.line"]
            .sudo()
            .search_count(
                [
                    ("company_id", "in", companies.ids),
                    ("psa_billable", "=", True),
                    # Priced or not yet (the close prices it first, _psa_generate).
                    ("project_id.sale_line_id.order_id.psa_backend_id", "!=", False),
                    ("date", ">=", month),
                    ("date", "<=", month + relativedelta(day=31)),
                ],
                limit=1,
            )
        )
        if busy or not has_time:
            raise RetryableJobError(
                _("The connector is still importing; the month close waits."), seconds=20
            )
        closes = self.browse()
        Close = self.with_context(allowed_company_ids=companies.ids)
        for company in companies:
            if (
                not self.env["sale.order"]
                .sudo()
                .search_count(
                    [("company_id", "=", company.id), ("psa_backend_id", "!=", False)], limit=1
                )
            ):
                continue
            close = Close.search([("company_id", "=", company.id), ("month", "=", month)])
            close = close or Close.create({"company_id": company.id, "month": month})
            if close.state == "posted":
                continue
            close.action_generate()
            if post:
                close.action_post()
            closes |= close
        return _("Closed: %s", ", ".join(closes.mapped("name")) or "-")

    # Internals ------------------------------------------------------------------------

    def _psa_drop_drafts(self):
        """Unlink the close's draft entries and put its cut-offs back to draft."""
        for cutoff in self.cutoff_ids:
            moves = cutoff.move_id | cutoff.move_id.reversal_move_ids
            if moves.filtered(lambda m: m.state == "posted"):
                raise UserError(
                    _("Cut-off %(cutoff)s has posted entries.", cutoff=cutoff.display_name)
                )
            if cutoff.state == "done":
                (cutoff.move_id.reversal_move_ids | cutoff.move_id).with_context(
                    force_delete=True
                ).unlink()
                cutoff.write({"state": "draft"})

    def _psa_new_cutoff(self, cutoff_type):
        Cutoff = self.env["account.cutoff"].with_company(self.company_id)
        existing = Cutoff.search(
            [
                ("company_id", "=", self.company_id.id),
                ("cutoff_date", "=", self.date_to),
                ("cutoff_type", "=", cutoff_type),
            ]
        )
        if existing:
            raise UserError(
                _(
                    "A %(type)s cut-off dated %(date)s already exists outside the month "
                    "close (%(cutoff)s): delete it or link it first.",
                    type=cutoff_type,
                    date=self.date_to,
                    cutoff=existing.display_name,
                )
            )
        return Cutoff.create(
            {
                "company_id": self.company_id.id,
                "cutoff_type": cutoff_type,
                "cutoff_date": self.date_to,
                "auto_reverse": True,
                "move_partner": True,
                "psa_month_close_id": self.id,
            }
        )

    def _psa_ensure_cutoff_setup(self):
        """The company's cut-off journal and accounts, created once when missing."""
        company = self.company_id
        values = {}
        if not company.default_cutoff_journal_id:
            journal = self.env["account.journal"].search(
                [("company_id", "=", company.id), ("type", "=", "general")], limit=1
            )
            if not journal:
                raise UserError(_("%s has no miscellaneous journal.", company.name))
            values["default_cutoff_journal_id"] = journal.id
        Account = self.env["account.account"].with_company(company)
        for field, code, name, account_type in (
            (
                "default_accrued_revenue_account_id",
                "PSAACR",
                _("Accrued revenue (unbilled work)"),
                "asset_current",
            ),
            (
                "default_prepaid_revenue_account_id",
                "PSADEF",
                _("Deferred revenue"),
                "liability_current",
            ),
        ):
            if company[field]:
                continue
            account = Account.search(
                [("company_ids", "in", company.id), ("code", "=", code)], limit=1
            ) or Account.create(
                {
                    "code": code,
                    "name": name,
                    "account_type": account_type,
                    "company_ids": [(6, 0, company.ids)],
                }
            )
            values[field] = account.id
        if values:
            company.write(values)
