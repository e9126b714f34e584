def post_init_hook(env):
    """Every existing company gets its connector integration user (see
    ``models/res_company.py``); companies created later get theirs on creation."""
    for company in env["res.company"].with_context(active_test=False).search([]):
        company._psa_integration_user()


def uninstall_hook(env):
    """Archive the integration users: without the connector they have nothing to run."""
    companies = env["res.company"].with_context(active_test=False).search([])
    companies.psa_integration_user_id.sudo().write({"active": False})
