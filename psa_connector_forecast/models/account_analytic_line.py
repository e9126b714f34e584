from odoo import api, models

# What the actuals sent to the forecasting tool are made of.
PUSHED_FIELDS = {"unit_amount", "date", "project_id", "psa_billable"}
DIRTY_KEY = "psa_forecast.dirty_project_ids"


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines._psa_forecast_touch()
        return lines

    def write(self, vals):
        touched = PUSHED_FIELDS & vals.keys()
        if touched:
            # Before and after: a line moved to another project changes both.
            self._psa_forecast_touch()
        result = super().write(vals)
        if touched:
            self._psa_forecast_touch()
        return result

    def unlink(self):
        self._psa_forecast_touch()
        return super().unlink()

    def _psa_forecast_touch(self):
        """Remember the projects whose actuals changed; mark them once, before commit.

        Fifty changes in one transaction are one mark per project, written when the
        transaction ends (precommit), so the state row is locked as briefly as possible.
        """
        project_ids = set(self.sudo().project_id.ids)
        if not project_ids:
            return
        data = self.env.cr.precommit.data
        if DIRTY_KEY not in data:
            data[DIRTY_KEY] = set()
            env = self.env
            self.env.cr.precommit.add(
                lambda: env["psa.forecast.push"].sudo()._mark_dirty(data.pop(DIRTY_KEY, set()))
            )
        data[DIRTY_KEY] |= project_ids
