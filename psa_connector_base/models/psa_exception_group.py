from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError

from ..tools.access import USER, requires_group
from .psa_exception import CATEGORIES, _pretty_text

# How many of a group's first members show their payload (the latest one is added).
SAMPLE_FIRST = 3
# A sample payload is cut after this many characters (a raw body may be large).
SAMPLE_MAX_CHARS = 4000

GROUP_STATES = [
    ("open", "Open"),
    ("resolved", "Resolved"),
    ("ignored", "Ignored"),
]


class PsaExceptionGroup(models.Model):
    """The exceptions with one cause: same backend, category, object type and reason
    (``psa.exception.group_key``), counted, dated and handled together.

    A view over psa_exception, not a table of counters: under a burst every new
    exception would update the same group row, and concurrent updates of one row fail
    to serialize (REPEATABLE READ); exceptions are also recorded through cursors of
    their own that are not retried, and a recording must never be lost to a counter.
    Read from the exceptions, a new occurrence of a resolved group simply makes it open
    again.
    """

    _name = "psa.exception.group"
    _description = "PSA Connector Exception Group"
    _auto = False
    _order = "last_seen desc, id desc"
    _rec_name = "reason_pattern"
    # Flushed before the view is read: pending writes of the exceptions count.
    _depends = {
        "psa.exception": [
            "group_key",
            "company_id",
            "backend_id",
            "category",
            "object_type",
            "reason_pattern",
            "state",
            "create_date",
        ],
    }

    group_key = fields.Char(readonly=True)
    backend_id = fields.Many2one("psa.backend", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    category = fields.Selection(CATEGORIES, readonly=True)
    object_type = fields.Char(readonly=True)
    reason_pattern = fields.Char(
        string="Cause",
        readonly=True,
        help="The problem, with the ids, numbers, dates, amounts and quoted values that "
        "differ between occurrences replaced by placeholders.",
    )
    exception_count = fields.Integer(
        string="Exceptions", readonly=True, help="All exceptions with this cause."
    )
    open_count = fields.Integer(
        string="To do", readonly=True, help="Exceptions of the group still open or retrying."
    )
    first_seen = fields.Datetime(readonly=True, help="When the first exception was raised.")
    last_seen = fields.Datetime(readonly=True, help="When the latest exception was raised.")
    state = fields.Selection(
        GROUP_STATES,
        readonly=True,
        help="Open while any exception of the group is open or retrying (a new "
        "occurrence reopens a resolved group); resolved when none is and one was "
        "resolved; ignored when all were ignored.",
    )
    exception_ids = fields.Many2many(
        "psa.exception",
        string="Exceptions of the group",
        compute="_compute_exception_ids",
        help="The exceptions with this cause that you may read.",
    )
    sample_payloads = fields.Html(
        compute="_compute_sample_payloads",
        sanitize=False,
        help="The payloads of the first exceptions of the group and of the latest one, "
        "as received.",
    )
    explanation = fields.Html(
        string="What to do",
        compute="_compute_explanation",
        sanitize=False,
        help="What the category means and how a finance user resolves it.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # Grouped by the key alone (the other columns depend on it), so that the
        # aggregate is one pass over psa_exception. A filter on the group's company
        # (record rule) is applied before grouping: company_id is in GROUP BY.
        self.env.cr.execute(
            f"""
            CREATE OR REPLACE VIEW {self._table} AS (
                SELECT min(e.id) AS id,
                       e.group_key,
                       e.company_id,
                       min(e.backend_id) AS backend_id,
                       min(e.category) AS category,
                       min(e.object_type) AS object_type,
                       min(e.reason_pattern) AS reason_pattern,
                       count(*) AS exception_count,
                       count(*) FILTER (WHERE e.state IN ('open', 'retrying')) AS open_count,
                       min(e.create_date) AS first_seen,
                       max(e.create_date) AS last_seen,
                       CASE
                           WHEN bool_or(e.state IN ('open', 'retrying')) THEN 'open'
                           WHEN bool_or(e.state = 'resolved') THEN 'resolved'
                           ELSE 'ignored'
                       END AS state
                  FROM psa_exception e
                 WHERE e.group_key IS NOT NULL
                 GROUP BY e.group_key, e.company_id
            )
            """
        )

    def _members(self, states=None):
        """The exceptions of these groups the caller may read (record rules apply)."""
        domain = [("group_key", "in", self.mapped("group_key"))]
        if states:
            domain.append(("state", "in", list(states)))
        return self.env["psa.exception"].search(domain)

    def _compute_exception_ids(self):
        for group in self:
            group.exception_ids = group._members()

    @api.depends("category")
    def _compute_explanation(self):
        guidance = self.env["psa.exception"]._category_guidance()
        for group in self:
            text = guidance.get(group.category)
            group.explanation = Markup("<p>%s</p>") % text if text else False

    def _compute_sample_payloads(self):
        Exceptions = self.env["psa.exception"]
        for group in self:
            domain = [("group_key", "=", group.group_key)]
            samples = Exceptions.search(domain, order="id", limit=SAMPLE_FIRST)
            samples |= Exceptions.search(domain, order="id desc", limit=1)
            blocks = Markup("")
            for exception in samples.sorted("id"):
                text = _pretty_text(exception.payload) or _("(no payload)")
                if len(text) > SAMPLE_MAX_CHARS:
                    text = text[:SAMPLE_MAX_CHARS] + "\n… " + _("(cut; open the exception)")
                blocks += Markup(
                    '<div class="o_psa_sample mb-3"><div class="text-muted small">%s</div>'
                    '<pre class="border rounded p-2 mb-0">%s</pre></div>'
                ) % (
                    _(
                        "Exception #%(id)s, raised %(date)s",
                        id=exception.id,
                        date=fields.Datetime.to_string(exception.create_date),
                    ),
                    text,
                )
            group.sample_payloads = blocks or False

    # Actions ---------------------------------------------------------------------

    @requires_group(USER)
    def action_retry_group(self):
        """Retry every open exception of the groups, as Retry does on a selection: the
        events are queued together, an edited payload awaiting its second approval is
        not replayed."""
        members = self._members(states=("open", "retrying"))
        if not members:
            raise UserError(_("No exception of this group is waiting."))
        return members.action_retry()

    @requires_group(USER)
    def action_ignore_group(self, reason):
        """Ignore every open exception of the groups with ``reason``."""
        members = self._members(states=("open", "retrying"))
        if not members:
            raise UserError(_("No exception of this group is waiting."))
        return members.action_ignore(reason)

    @requires_group(USER)
    def action_open_ignore_wizard(self):
        members = self._members(states=("open", "retrying"))
        if not members:
            raise UserError(_("No exception of this group is waiting."))
        return members.action_open_ignore_wizard()

    @requires_group(USER)
    def action_open_exceptions(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_base.action_psa_exception"
        )
        action["domain"] = [("group_key", "in", self.mapped("group_key"))]
        action["context"] = (
            {"search_default_filter_open": 1} if any(group.open_count for group in self) else {}
        )
        if len(self) == 1:
            action["name"] = _("Exceptions: %s", self.reason_pattern)
        return action
