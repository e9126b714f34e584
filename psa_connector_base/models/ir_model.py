from odoo import models


class IrModel(models.Model):
    _inherit = "ir.model"

    def unlink(self):
        """Drop the queued jobs of connector models that are removed (an addon of the suite
        uninstalled): queue_job keeps jobs whose model is gone, and those can neither run
        nor be opened any more."""
        names = [name for name in self.mapped("model") if name.startswith("psa.")]
        if names:
            self.env["queue.job"].sudo().search([("model_name", "in", names)]).unlink()
        return super().unlink()
