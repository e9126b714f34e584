"""The connector's integration identity: one technical user per company.

Jobs, imports, pushes and the crons' per-backend work run as the backend company's
integration user instead of the superuser, so what the connector may write is decided by
a group (``group_connector_integration``: the rights its importers need, nothing of
Settings) and by the multi-company record rules: company B's backends are processed by
company B's user, which cannot see company A.
"""

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError

INTEGRATION_GROUP = "psa_connector_base.group_connector_integration"
INTEGRATION_LOGIN = "psa_integration_%s"


class ResCompany(models.Model):
    _inherit = "res.company"

    psa_integration_user_id = fields.Many2one(
        "res.users",
        string="PSA integration user",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The technical user the PSA connector's jobs of this company run as "
        "(see Queue Jobs, filtered by this user). It has no password and cannot log in.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._psa_check_integration_user_write(vals)
        companies = super().create(vals_list)
        for company in companies:
            company._psa_integration_user()
        return companies

    def write(self, vals):
        self._psa_check_integration_user_write(vals)
        return super().write(vals)

    def _psa_check_integration_user_write(self, vals):
        # Whoever may edit companies must not point the connector's jobs at another
        # user (an administrator, say): only the connector sets it, under sudo.
        if "psa_integration_user_id" in vals and not self.env.su:
            raise AccessError(self.env._("The PSA integration user is set by the connector only."))

    def _psa_integration_user(self):
        """This company's integration user, created when missing (the one place that
        decides who the connector's work runs as)."""
        self.ensure_one()
        # sudo: any user who queues connector work (a Connector User pressing Retry, the
        # public webhook user through the dispatcher) needs the integration user's id,
        # and creating it needs the right to create users, which none of them has. The
        # values written are fixed here; nothing comes from the caller.
        company = self.sudo()
        user = company.psa_integration_user_id
        if not user:
            user = company._psa_create_integration_user()
            company.psa_integration_user_id = user
        return user.sudo(False)

    def _psa_create_integration_user(self):
        self.ensure_one()
        # active_test: creating an archived user archives its partner, which Odoo refuses
        # while a search that includes archived users finds the user linked to it.
        Users = (
            self.env["res.users"]
            .sudo()
            .with_context(active_test=True, no_reset_password=True, tracking_disable=True)
        )
        login = INTEGRATION_LOGIN % self.id
        user = Users.browse(
            Users.with_context(active_test=False).search([("login", "=", login)], limit=1).ids
        )
        values = {
            "name": self.env._("PSA Connector Integration (%s)", self.name),
            "company_id": self.id,
            "company_ids": [Command.set([self.id])],
            "groups_id": [Command.set([self.env.ref(INTEGRATION_GROUP).id])],
            # Archived, as Odoo's own __system__ user is: jobs run as it all the same,
            # but nobody logs in as it (not even with a password or an API key) and
            # what it creates does not make it a follower of every contact, task and
            # order, whose messages would all notify it.
            "active": False,
        }
        if user:
            user.write(values)
        else:
            # The chatter needs an author address for what the connector posts (a
            # resolved exception, a tracked change): the bot's, as OdooBot has.
            bot = self.env.ref("base.partner_root", raise_if_not_found=False)
            email = (bot and bot.email) or "odoobot@example.com"
            user = Users.create({**values, "login": login, "email": email})
        # Should it follow something, it is notified in Odoo, not mailed to the bot's
        # address (internal users only: set once the groups above made it one).
        user.notification_type = "inbox"
        # No password, so no interactive login: the user exists for jobs to run as.
        self.env.cr.execute("UPDATE res_users SET password = NULL WHERE id = %s", [user.id])
        return user
