from odoo.addons.psa_connector_billing.models.psa_project_financial import STANDARD_LABOUR_COST


def uninstall_hook(env):
    """Give billing back its own labour cost before the cost history can go.

    Uninstalling psa_connector_hr drops psa_employee_cost_history (CASCADE): the
    financials view must not read it any more by then, or it would go with it.
    """
    env["psa.project.financial"]._create_view(*STANDARD_LABOUR_COST)
