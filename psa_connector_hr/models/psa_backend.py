from odoo import fields, models

LEAVER_USER_POLICIES = [
    ("never", "Never"),
    ("termination", "On termination"),
    ("after_time", "After the last approved time"),
]


class PsaBackend(models.Model):
    _inherit = "psa.backend"

    psa_leaver_user_policy = fields.Selection(
        LEAVER_USER_POLICIES,
        string="Deactivate leavers' users",
        default="after_time",
        required=True,
        help="HR systems: what happens to the Odoo user of an employee the HR system "
        "terminates (the employee is archived in any case). Never: the user stays "
        "active. On termination: deactivated at once. After the last approved time: "
        "deactivated once the grace period after the last working day has passed and no "
        "time entry of theirs dated up to that day is still waiting to be applied (a "
        "pending, waiting or failed event, or an open exception). Administrators and "
        "the connector's integration users are never deactivated. Every deactivation "
        "is in the audit log.",
    )
    psa_leaver_grace_days = fields.Integer(
        string="Grace for late time (days)",
        default=14,
        help="Days after a leaver's last working day during which their late time "
        "entries may still arrive from the PSA before their user is deactivated.",
    )

    def _pull_object_types(self):
        types = super()._pull_object_types()
        if self.kind == "hr":
            # Departments first: employees point to them; leave points to employees.
            types += ["department", "employee", "leave"]
        return types
