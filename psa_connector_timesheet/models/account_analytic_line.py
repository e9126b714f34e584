from collections import defaultdict

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.psa_connector_base.tools.access import USER, requires_group, workflow_write

# Set by the sync (the PSA's billable flag) and by finance's lock only: a user who may
# edit their own timesheet lines may not unlock one or make it billable.
PSA_LINE_WORKFLOW_FIELDS = ("psa_locked", "psa_billable")


class AccountAnalyticLine(models.Model):
    _name = "account.analytic.line"
    _inherit = ["account.analytic.line", "psa.workflow.guard.mixin"]
    _psa_workflow_fields = PSA_LINE_WORKFLOW_FIELDS

    psa_locked = fields.Boolean(
        string="Locked for the PSA",
        copy=False,
        help="Locked by finance: the remote system may no longer change this line.",
    )
    psa_billable = fields.Boolean(
        string="Billable in the PSA", help="The billable flag of the remote time entry."
    )

    def _psa_is_billed(self):
        """Invoiced (on a non-cancelled invoice) or locked by finance."""
        self.ensure_one()
        return self.psa_locked or not self._is_not_billed()

    @requires_group(USER)
    def action_psa_lock(self):
        unlocked = self.filtered(lambda line: not line.psa_locked)
        if not unlocked:
            raise UserError(_("The selected lines are already locked."))
        with workflow_write():
            unlocked.psa_locked = True
        unlocked._psa_report_billed({"number": _("Locked in Odoo"), "odoo_id": None})
        return True

    def _psa_report_billed(self, invoice):
        """Queue, per backend, the message that these lines' entries are billed."""
        bindings = (
            self.env["psa.binding"]
            .sudo()
            .search(
                [
                    ("external_type", "=", "time_entry"),
                    ("res_model", "=", self._name),
                    ("res_id", "in", self.ids),
                ]
            )
        )
        by_backend = defaultdict(list)
        for binding in bindings:
            by_backend[binding.backend_id].append(binding.external_id)
        for backend, external_ids in by_backend.items():
            backend._enqueue_billed_push(external_ids, invoice)
