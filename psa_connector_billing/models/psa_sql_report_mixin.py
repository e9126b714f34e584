from odoo import api, models
from odoo.tools import SQL


class PsaSqlReportMixin(models.AbstractModel):
    """A report read from a database view: the view reads the tables underneath, so the
    ORM's pending writes must be in them before it is searched or grouped. Its ratios
    (margin %, DSO), where it has them, are a group's ratio of its totals."""

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

    def _read_group_select(self, aggregate_spec, query):
        """Margin % and DSO of a group from its totals, not an average of the rows' ratios.

        ``margin_pct`` / ``dso`` with ``avg`` (what the pivot, graph and grouped list ask
        for) or ``sum``: 100 x SUM(margin) / SUM(revenue), and SUM(open receivable) x the
        window's days / SUM(invoiced in the window); 0 when the denominator is. One place
        for read_group, web_read_group, _read_group and their ordering; other aggregates
        stay per row.
        """
        name, _sep, function = aggregate_spec.partition(":")
        if function in ("avg", "sum") and name in self._fields:
            column = lambda field: self._field_to_sql(self._table, field, query)  # noqa: E731
            if name == "margin_pct":
                return SQL(
                    "COALESCE(100 * SUM(%s) / NULLIF(SUM(%s), 0), 0)",
                    column("margin"),
                    column("revenue"),
                )
            if name == "dso":
                return SQL(
                    "COALESCE(SUM(%s) * MAX(%s) / NULLIF(SUM(%s), 0), 0)",
                    column("open_receivable"),
                    column("dso_days"),
                    column("invoiced_recent"),
                )
        return super()._read_group_select(aggregate_spec, query)
