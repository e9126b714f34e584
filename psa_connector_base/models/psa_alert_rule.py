import logging
import operator
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..tools.access import MANAGER, requires_group, workflow_write
from ..tools.jobs import is_concurrency_error

METRICS = [
    ("failed_billing", "Failed billing triggers"),
    ("exception_age", "Oldest open exception (minutes)"),
    ("queue_depth", "Queue depth (jobs waiting or running)"),
    ("remote_error_rate", "Remote error rate (%)"),
    ("stale_pull", "Oldest successful pull (minutes)"),
]
COMPARISONS = [
    ("gt", "above"),
    ("ge", "at or above"),
    ("lt", "below"),
    ("le", "at or below"),
]
COMPARE = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
# What "still to be dealt with" means for an exception: waiting for a person, or being
# retried right now (a retry that fails reopens it).
UNRESOLVED_EXCEPTION_STATES = ("open", "retrying")
# The queue_job states of a job not finished yet.
QUEUED_JOB_STATES = ("pending", "enqueued", "started")
ACTIVITY_TYPE = "psa_connector_base.mail_activity_type_psa_alert"

_logger = logging.getLogger(__name__)


class PsaAlertRule(models.Model):
    """A threshold on one operational measure, checked every five minutes.

    Crossing it raises one activity for the chosen user and puts the rule in that run's
    e-mail digest; a rule that stays raised raises nothing more; when the measure is
    back on the right side, the rule returns to ok and its activity is marked done.
    """

    _name = "psa.alert.rule"
    _description = "PSA Connector Alert Rule"
    _inherit = ["mail.thread", "mail.activity.mixin", "psa.workflow.guard.mixin"]
    _order = "name"
    _check_company_auto = True

    # Set by the evaluation only: a raised rule cleared by hand would leave its activity
    # open and raise no new one.
    _psa_workflow_fields = ("state", "raised_since", "last_value", "last_checked")

    name = fields.Char(
        required=True, tracking=True, help='What the alert says, e.g. "Billing triggers failing".'
    )
    metric = fields.Selection(
        METRICS,
        required=True,
        default="failed_billing",
        tracking=True,
        help="Failed billing triggers: unresolved exceptions of billing events created "
        "within the window. Oldest open exception: age in minutes of the oldest unresolved "
        "exception. Queue depth: jobs pending, enqueued or started (of the channel, if "
        "given). Remote error rate: calls to the remote system that failed, in percent of "
        "all calls within the window (a failure is a remote-error exception, a successful "
        "call is an outgoing audit-log entry: the calls that leave a trace). Oldest "
        "successful pull: minutes since the last successful pull of the object type that "
        "has gone longest without one (since its first pull, if none succeeded yet).",
    )
    comparison = fields.Selection(
        COMPARISONS,
        required=True,
        default="gt",
        help="The rule is raised while the measured value compares so to the threshold.",
    )
    threshold = fields.Float(
        required=True,
        tracking=True,
        help="The limit, in the measure's unit: a count, minutes, or a percentage.",
    )
    window_minutes = fields.Integer(
        string="Window (minutes)",
        default=60,
        help="For failed billing triggers and the remote error rate: how far back to look.",
    )
    backend_id = fields.Many2one(
        "psa.backend",
        ondelete="cascade",
        check_company=True,
        help="Only this connected system; empty for all of the company's systems (not used "
        "for the queue depth, which jobs do not record per system).",
    )
    object_type = fields.Char(
        help="For the oldest successful pull: only this object type (e.g. time_entry).",
    )
    channel = fields.Char(
        help="For the queue depth: only jobs of this queue_job channel and its "
        "sub-channels (e.g. root.psa.time_entry).",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Notify",
        required=True,
        default=lambda self: self.env.user,
        domain=lambda self: [
            ("groups_id", "in", self.env.ref("psa_connector_base.group_connector_user").ids)
        ],
        help="Who gets the activity and the e-mail digest when the rule is raised. They "
        "must be a Connector User of the rule's company.",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        help="The company whose data the rule measures.",
    )
    active = fields.Boolean(default=True)
    state = fields.Selection(
        [("ok", "OK"), ("raised", "Raised")],
        default="ok",
        required=True,
        readonly=True,
        tracking=True,
        help="Set by the evaluation every five minutes.",
    )
    raised_since = fields.Datetime(readonly=True, help="When the rule was last raised.")
    last_value = fields.Float(readonly=True, help="The value measured at the last check.")
    last_checked = fields.Datetime(readonly=True, help="When the rule was last evaluated.")

    @api.constrains("window_minutes")
    def _check_window(self):
        for rule in self:
            if rule.metric in ("failed_billing", "remote_error_rate") and rule.window_minutes <= 0:
                raise ValidationError(_("The window of %s must be at least a minute.", rule.name))

    # Measures ------------------------------------------------------------------------

    def _measure(self, now):
        """The rule's measure, now, in its unit (a count, minutes or a percentage)."""
        self.ensure_one()
        return getattr(self, f"_measure_{self.metric}")(now)

    def _scope(self, *conditions):
        """A domain of the rule's company (and backend, if given), with ``conditions``."""
        domain = [("company_id", "=", self.company_id.id), *conditions]
        if self.backend_id:
            domain.append(("backend_id", "=", self.backend_id.id))
        return domain

    def _window_start(self, now):
        return now - timedelta(minutes=self.window_minutes)

    def _measure_failed_billing(self, now):
        # From the exception queue by object type: base does not depend on billing.
        return self.env["psa.exception"].search_count(
            self._scope(
                ("object_type", "=", "billing_event"),
                ("state", "in", UNRESOLVED_EXCEPTION_STATES),
                ("create_date", ">=", self._window_start(now)),
            )
        )

    def _measure_exception_age(self, now):
        oldest = self.env["psa.exception"].search(
            self._scope(("state", "in", UNRESOLVED_EXCEPTION_STATES)),
            order="create_date asc, id asc",
            limit=1,
        )
        return _minutes(now - oldest.create_date) if oldest else 0.0

    def _measure_queue_depth(self, now):
        domain = [
            ("state", "in", QUEUED_JOB_STATES),
            ("company_id", "=", self.company_id.id),
        ]
        if self.channel:
            domain += [
                "|",
                ("channel", "=", self.channel),
                ("channel", "=like", f"{self.channel}.%"),
            ]
        # sudo: a count of queue_job's jobs, which only queue_job managers may read; the
        # domain holds this rule's own company and channel, nothing is written.
        return self.env["queue.job"].sudo().search_count(domain)

    def _measure_remote_error_rate(self, now):
        since = self._window_start(now)
        failed = self.env["psa.exception"].search_count(
            self._scope(("category", "=", "remote_error"), ("create_date", ">=", since))
        )
        succeeded = self.env["psa.audit.log"].search_count(
            self._scope(("direction", "=", "out"), ("create_date", ">=", since))
        )
        calls = failed + succeeded
        return 100.0 * failed / calls if calls else 0.0

    def _measure_stale_pull(self, now):
        domain = self._scope(
            ("backend_id.active", "=", True),
            ("backend_id.pull_enabled", "=", True),
        )
        if self.object_type:
            domain.append(("object_type", "=", self.object_type))
        ages = [
            _minutes(now - (watermark.last_success or watermark.create_date))
            for watermark in self.env["psa.sync.watermark"].search(domain)
        ]
        return max(ages, default=0.0)

    # Evaluation ------------------------------------------------------------------------

    @api.model
    def _cron_evaluate(self):
        """Evaluate every active rule once and send one digest per recipient.

        The cron runs as root only to find every company's rules and to send the digest
        (``mail.mail`` is the mail queue's, not a connector user's); each company's rules
        are measured and updated as that company's integration user, like its jobs.
        """
        rules = self.sudo().search([("active", "=", True)])
        raised = self.browse()
        for company in rules.company_id:
            integration_env = self.env(
                user=company._psa_integration_user(),
                context=dict(self.env.context, allowed_company_ids=company.ids),
                su=False,
            )
            company_rules = rules.filtered(lambda rule, c=company: rule.company_id == c)
            # One company's broken rule (e.g. a user to notify who may not read it) must
            # not keep the other companies' alerts from being raised.
            try:
                with self.env.cr.savepoint():
                    raised |= company_rules.with_env(integration_env)._evaluate()
            except Exception as err:
                if is_concurrency_error(err):
                    # Another transaction changed a rule meanwhile: the next run measures it.
                    _logger.info(
                        "PSA alert rules of %s left to the next run: %s", company.name, err
                    )
                    continue
                _logger.exception("PSA alert rules of %s could not be evaluated", company.name)
        self.sudo().browse(raised.ids)._send_digests()
        return True

    @requires_group(MANAGER)
    def action_evaluate_now(self):
        """Check these rules now (a Connector Manager testing a threshold)."""
        self.browse(self._evaluate().ids)._send_digests()
        return True

    def _evaluate(self):
        """Measure each rule, raise or clear it; return the rules newly raised."""
        now = fields.Datetime.now()
        newly_raised = self.browse()
        for rule in self:
            value = rule._measure(now)
            crossed = COMPARE[rule.comparison](value, rule.threshold)
            with workflow_write():
                rule.write({"last_value": value, "last_checked": now})
                if crossed and rule.state == "ok":
                    rule.write({"state": "raised", "raised_since": now})
                    rule._raise_activity(value)
                    newly_raised |= rule
                elif not crossed and rule.state == "raised":
                    rule.write({"state": "ok", "raised_since": False})
                    rule._clear_activity(value)
        return newly_raised

    def _describe(self, value):
        return _(
            "%(name)s: %(metric)s is %(value)s (%(comparison)s %(threshold)s)",
            name=self.name,
            metric=dict(self._fields["metric"]._description_selection(self.env))[self.metric],
            value=_format(value),
            comparison=dict(self._fields["comparison"]._description_selection(self.env))[
                self.comparison
            ],
            threshold=_format(self.threshold),
        )

    def _raise_activity(self, value):
        self.activity_schedule(
            ACTIVITY_TYPE,
            user_id=self.user_id.id,
            summary=self.name,
            note=escape(self._describe(value)),
        )

    def _clear_activity(self, value):
        self.activity_ids.filtered(
            lambda activity: activity.activity_type_id == self.env.ref(ACTIVITY_TYPE)
        ).action_feedback(feedback=_("Cleared: the value is back to %s.", _format(value)))
        self.message_post(
            body=_("Alert cleared: %(what)s.", what=self._describe(value)),
            subtype_xmlid="mail.mt_note",
        )

    def _send_digests(self):
        """One e-mail per recipient listing the rules raised in this run."""
        by_user = defaultdict(lambda: self.browse())
        for rule in self:
            by_user[rule.user_id] |= rule
        Mail = self.env["mail.mail"].sudo()
        for user, recipient_rules in by_user.items():
            if not user.partner_id.email:
                continue
            # In the recipient's language.
            rules = recipient_rules.with_context(lang=user.lang)
            items = Markup("").join(
                Markup("<li>%s</li>") % rule._describe(rule.last_value) for rule in rules
            )
            Mail.create(
                {
                    "subject": rules.env._("PSA Connector: %s alert(s) raised", len(rules)),
                    "body_html": Markup("<p>%s</p><ul>%s</ul>")
                    % (rules.env._("These alerts were raised in the last check:"), items),
                    "recipient_ids": [(4, user.partner_id.id)],
                    "email_from": (
                        rules[0].company_id.email_formatted or self.env.user.email_formatted
                    ),
                    "auto_delete": True,
                }
            )


def _minutes(delta):
    return delta.total_seconds() / 60.0


def _format(value):
    return f"{value:g}" if value != int(value) else str(int(value))
