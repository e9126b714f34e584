from odoo import fields, models

from odoo.addons.psa_connector_base.tools.access import USER, requires_group


class PsaBackend(models.Model):
    """The dashboard card's billing figures: what finance can invoice today."""

    _inherit = "psa.backend"

    dash_contracts_ready = fields.Integer(
        string="Contracts ready to invoice",
        compute="_compute_dashboard_billing",
        help="Confirmed contracts of this backend with an invoice readiness of 100.",
    )
    dash_contracts_not_ready = fields.Integer(
        string="Contracts not ready",
        compute="_compute_dashboard_billing",
        help="Confirmed contracts with time not approved, open exceptions, open anomaly "
        "flags or time without a rate: see each contract's readiness reasons.",
    )
    dash_open_anomalies = fields.Integer(
        string="Open anomaly flags",
        compute="_compute_dashboard_billing",
        help="Flags on incoming time and billing events not acknowledged yet.",
    )

    def _psa_dashboard_contracts(self):
        # sudo: the card counts contracts for connector users without sales rights.
        return (
            self.env["sale.order"]
            .sudo()
            .search([("psa_backend_id", "in", self.ids), ("state", "=", "sale")])
        )

    def _compute_dashboard_billing(self):
        contracts = self._psa_dashboard_contracts()
        ready, not_ready = {}, {}
        for order in contracts:  # the readiness compute is batched over all of them
            counts = ready if order.psa_readiness_score >= 100 else not_ready
            counts[order.psa_backend_id.id] = counts.get(order.psa_backend_id.id, 0) + 1
        anomalies = dict(
            self.env["psa.anomaly"]
            .sudo()
            ._read_group(
                [("backend_id", "in", self.ids), ("state", "=", "open")],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.dash_contracts_ready = ready.get(backend.id, 0)
            backend.dash_contracts_not_ready = not_ready.get(backend.id, 0)
            backend.dash_open_anomalies = anomalies.get(backend.sudo(), 0)

    @requires_group(USER)
    def action_dashboard_contracts_not_ready(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_billing.action_psa_contract"
        )
        not_ready = self._psa_dashboard_contracts().filtered(lambda o: o.psa_readiness_score < 100)
        action["domain"] = [("id", "in", not_ready.ids)]
        return action

    @requires_group(USER)
    def action_dashboard_anomalies(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "psa_connector_billing.action_psa_anomaly"
        )
        action["context"] = {"search_default_backend_id": self.id, "search_default_filter_open": 1}
        return action
