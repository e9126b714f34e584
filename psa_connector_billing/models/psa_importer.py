from odoo import _, models

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid


class PsaImporter(models.AbstractModel):
    _inherit = "psa.importer"

    def _currency_for(self, code, company):
        """The ISO currency ``code`` (default: the company's), activated if Odoo has it.

        Odoo ships every ISO currency inactive but its company's; a contract or expense in
        another one is legitimate and must not fail for that alone.
        """
        if not code:
            return company.currency_id
        currency = (
            self.env["res.currency"]
            .sudo()
            .with_context(active_test=False)
            .search([("name", "=", code.upper())], limit=1)
        )
        if not currency:
            raise PayloadInvalid(_("Unknown currency %r.", code))
        if not currency.active:
            currency.active = True
        return currency
