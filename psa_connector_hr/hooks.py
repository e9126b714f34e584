def uninstall_hook(env):
    """Keep the firm's cost centres when the connector goes.

    The Cost centres analytic plan holds the cost-centre analytic accounts the HR system
    sent, and timesheet lines carry them on the plan's column: they are the firm's
    analytic structure, not the connector's. Releasing the plan's xmlid keeps Odoo from
    deleting it (which the accounts referencing it would refuse anyway).
    """
    env["ir.model.data"].search(
        [("module", "=", "psa_connector_hr"), ("name", "=", "analytic_plan_cost_centres")]
    ).unlink()
