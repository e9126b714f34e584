from odoo import api, models


class PsaBinding(models.Model):
    _inherit = "psa.binding"

    @api.model_create_multi
    def create(self, vals_list):
        bindings = super().create(vals_list)
        # A manager who just arrived completes the links that were waiting for them.
        self.env["psa.pending.link"].sudo()._apply_for(bindings)
        return bindings

    def write(self, vals):
        result = super().write(vals)
        if vals.get("res_id"):
            # A binding re-pointed to a re-created record counts as an arrival too.
            self.env["psa.pending.link"].sudo()._apply_for(self)
        return result
