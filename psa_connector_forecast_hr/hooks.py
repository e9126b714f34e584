from odoo.tools import SQL


def uninstall_hook(env):
    """Give the utilisation report its own billable hours back before the HR connector's
    billable flag (hr_employee.psa_billable) can go."""
    env["psa.utilisation.report"]._create_view(SQL("l.psa_billable"))
