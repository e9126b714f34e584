def post_init_hook(env):
    """Every existing company gets its connector integration user (see
    ``models/res_company.py``); companies created later get theirs on creation."""
    for company in env["res.company"].with_context(active_test=False).search([]):
        company._psa_integration_user()
