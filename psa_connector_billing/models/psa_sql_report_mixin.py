from odoo import api, models


class PsaSqlReportMixin(models.AbstractModel):
    """A report read from a database view: the view reads the tables underneath, so the
    ORM's pending writes must be in them before it is searched or grouped."""

    _name = "psa.sql.report.mixin"
    _description = "PSA Connector: report on a database view"

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        self.env.flush_all()
        return super().read_group(
            domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy
        )

    @api.model
    def _search(self, domain, *args, **kwargs):
        self.env.flush_all()
        return super()._search(domain, *args, **kwargs)
