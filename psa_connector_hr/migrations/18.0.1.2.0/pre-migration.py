"""Pre-migration of psa_connector_hr to 18.0.1.2.0: payroll inputs move to psa_connector_hr_payroll.

The payroll models, their fields, views, menus, access rights, rules and cron, the pay
category and approval date of timesheet lines and the *Payroll system* backend kind now
belong to the glue addon psa_connector_hr_payroll. Without this script, the end of the
upgrade would delete what psa_connector_hr no longer declares, the models with their
tables (periods, batches, sent files): their XML ids are handed to the new addon first,
which is installed in the same run when what it depends on is installed (on every
database that had psa_connector_hr 18.0.1.1.0, which depended on all of it).
"""

from odoo.addons.psa_connector_base.tools.migration import (
    install_with_dependencies_present,
    move_model_ownership,
    move_xmlids,
)

NEW = "psa_connector_hr_payroll"
MOVED_MODELS = (
    "psa.payroll.period",
    "psa.payroll.batch",
    "psa.payroll.batch.line",
    "psa.payroll.entry",
    "psa.payroll.check",
)
# XML ids (LIKE patterns) of psa_connector_hr that are psa_connector_hr_payroll's now.
MOVED_XMLIDS = (
    r"model_psa_payroll\_%",
    r"field_psa_payroll\_%",
    r"selection\_\_psa_payroll\_%",
    r"access_psa_payroll\_%",
    r"rule_psa_payroll\_%",
    r"rule_psa\_%\_payroll_approver",
    r"view_psa_payroll\_%",
    r"action_psa_payroll\_%",
    r"menu_psa_payroll%",
    r"menu_hr_psa_payroll%",
    r"ir_cron_psa_payroll_export%",
    "field_account_analytic_line__psa_pay_category",
    "field_account_analytic_line__psa_approved_date",
    r"selection\_\_account_analytic_line\_\_psa_pay_category\_\_%",
    "selection__psa_backend__kind__payroll",
)


def migrate(cr, version):
    if not version:  # a fresh install, nothing to migrate
        return
    # The glue is installed, not upgraded: its data overwrites even noupdate records. What
    # an administrator set on the payroll cron is kept here for end-migration.py.
    cr.execute("DROP TABLE IF EXISTS psa_connector_hr_payroll_cron_kept")
    cr.execute(
        """
        CREATE TABLE psa_connector_hr_payroll_cron_kept AS
        SELECT c.id, c.active, c.interval_number, c.interval_type, c.nextcall, c.priority
          FROM ir_cron c
          JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id
         WHERE d.module = 'psa_connector_hr' AND d.name = 'ir_cron_psa_payroll_export'
        """
    )
    move_xmlids(cr, "psa_connector_hr", NEW, MOVED_XMLIDS)
    move_model_ownership(cr, "psa_connector_hr", NEW, MOVED_MODELS)
    install_with_dependencies_present(cr, NEW)
