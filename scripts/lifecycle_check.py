"""Install, upgrade and uninstall the suite on a database with data; check what is left.

Run by scripts/lifecycle_check.sh (which installs and upgrades the suite with odoo-bin
first) as: python scripts/lifecycle_check.py -c ODOO_CONF -d DB STEP
STEP is one of:
  seed       pull from the in-process demo PSA / HR / forecasting tool (customers,
             projects, tasks, approved time, contracts, expenses, employees, leave,
             allocations) and compute utilisation, so every addon has rows to lose
  views      validate every active view (the suite installed)
  uninstall  uninstall each addon in reverse dependency order; after each one check
             that nothing it created is left (data records, models, fields, tables,
             columns, relation tables, records of other models pointing at its models),
             and at the end validate every remaining view
Any ERROR logged during a step fails it. Prints one line per check, exit 1 on failure.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = [
    "psa_connector_base",
    "psa_connector_timesheet",
    "psa_connector_hr",
    "psa_connector_billing",
    "psa_connector_forecast",
    # Glue addons (auto_install), after both of their sides.
    "psa_connector_hr_payroll",
    "psa_connector_billing_hr",
    "psa_connector_forecast_hr",
    "psa_connector_crm",
]
# Models of other modules that keep a model's name in a char field and that Odoo or
# queue_job do not clean themselves: rows left pointing at a removed model are orphans.
MODEL_NAME_REFERENCES = [
    ("ir.model.access", "model_id.model"),
    ("ir.rule", "model_id.model"),
    ("ir.ui.view", "model"),
    ("ir.actions.act_window", "res_model"),
    ("ir.actions.server", "model_name"),
    ("ir.filters", "model_id"),
    ("ir.default", "field_id.model_id.model"),
    ("ir.attachment", "res_model"),
    ("mail.message", "model"),
    ("mail.followers", "res_model"),
    ("mail.activity", "res_model"),
    ("queue.job", "model_name"),
    ("queue.job.function", "model_id.model"),
]


class ErrorCounter(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}"[:500])


class Check:
    def __init__(self):
        self.failures = 0

    def __call__(self, ok, what, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
        sys.stdout.flush()
        self.failures += not ok
        return ok


def odoo_env(db):
    import odoo
    from odoo.modules.registry import Registry

    registry = Registry(db)
    cr = registry.cursor()
    return cr, odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"active_test": False})


# Seed ------------------------------------------------------------------------------


def run_jobs(env, max_rounds=30):
    """Run pending jobs the way the job runner would (as PsaTestMixin.run_jobs)."""
    from odoo.addons.queue_job.exception import RetryableJobError
    from odoo.addons.queue_job.job import Job

    done = 0
    for _round in range(max_rounds):
        pending = env["queue.job"].search([("state", "=", "pending")], order="priority, id")
        if not pending:
            return done
        for record in pending:
            job = Job.load(env, record.uuid)
            job.set_started()
            job.store()
            try:
                job.perform()
            except RetryableJobError as err:
                job.postpone(result=str(err), seconds=0)
                job.set_pending(reset_retry=False)
            else:
                job.set_done()
            job.store()
            done += 1
    return done


def seed(db, check):
    from datetime import date

    sys.path.insert(0, str(ROOT))
    from psa_simulator.server import PsaSimulator

    simulator = PsaSimulator(token="lifecycle-token").start()
    try:
        cr, env = odoo_env(db)
        with cr:
            env = env(context=dict(env.context, tracking_disable=True))
            # The demo firm keeps costs in EUR and the connector converts no currency
            # (as scripts/setup_demo_backend.py): a company without entries may switch.
            euro = env.ref("base.EUR")
            euro.active = True
            env.company.currency_id = euro
            # The simulator is on http://127.0.0.1 (see psa_connector_base.adapters.base).
            for param in ("allow_private_targets", "allow_insecure_http"):
                env["ir.config_parameter"].set_param(f"psa_connector_base.{param}", "True")
            for code, kind in [("life-psa", "psa"), ("life-hr", "hr"), ("life-fc", "forecast")]:
                env["psa.backend"].create(
                    {
                        "name": f"Lifecycle {kind}",
                        "code": code,
                        "kind": kind,
                        "base_url": simulator.url,
                        "api_token": "lifecycle-token",
                        "webhook_secret": "lifecycle-secret",
                    }
                ).action_pull_now()
            # Pulls queue imports, which queue their dependants: run until quiet.
            jobs = run_jobs(env)
            env["psa.capacity.day"]._compute_period(date(2026, 10, 26), date(2026, 12, 27))
            jobs += run_jobs(env)
            cr.commit()
            counts = {
                model: env[model].search_count([])
                for model in [
                    "psa.binding",
                    "psa.event",
                    "psa.exception",
                    "account.analytic.line",
                    "sale.order",
                    "hr.expense",
                    "hr.employee",
                    "hr.leave",
                    "psa.allocation",
                    "psa.capacity.day",
                ]
                if model in env
            }
            print(f"seeded: {jobs} jobs run; " + ", ".join(f"{m} {n}" for m, n in counts.items()))
            for model in [
                "psa.binding",
                "account.analytic.line",
                "sale.order",
                "hr.leave",
                "psa.allocation",
            ]:
                check(counts.get(model, 0) > 0, f"seed: {model} records imported")
            check(counts.get("hr.employee", 0) > 1, "seed: employees imported")
    finally:
        simulator.stop()


# Views -----------------------------------------------------------------------------


def validate_views(db, check, label):
    cr, env = odoo_env(db)
    with cr:
        views = env["ir.ui.view"].with_context(active_test=True).search([])
        broken = []
        for view in views:
            try:
                with cr.savepoint():
                    view._check_xml()
            except Exception as err:
                broken.append(f"{view.xml_id or view.id}: {str(err).splitlines()[0][:200]}")
        check(not broken, f"{label}: {len(views)} active views valid", "; ".join(broken[:10]))
        # Actions and menus must point at models and actions that still exist.
        bad_actions = [
            a.xml_id or str(a.id)
            for a in env["ir.actions.act_window"].search([])
            if a.res_model not in env
        ]
        check(not bad_actions, f"{label}: window actions on existing models", str(bad_actions[:10]))
        bad_menus = [
            m.complete_name
            for m in env["ir.ui.menu"].search([("action", "!=", False)])
            if not m.action.exists()
        ]
        check(not bad_menus, f"{label}: menus with existing actions", str(bad_menus[:10]))


# Uninstall -------------------------------------------------------------------------


def snapshot(env):
    """What each suite module owns, read before any uninstall."""
    cr = env.cr
    cr.execute(
        "SELECT module, model, res_id, name FROM ir_model_data WHERE module = ANY(%s)", [SUITE]
    )
    xmlids = cr.fetchall()
    owners = {}  # (model, res_id) -> set of modules owning an xmlid on it
    cr.execute(
        """SELECT d.model, d.res_id, array_agg(DISTINCT d.module) FROM ir_model_data d
           WHERE (d.model, d.res_id) IN (SELECT model, res_id FROM ir_model_data
                                          WHERE module = ANY(%s))
           GROUP BY d.model, d.res_id""",
        [SUITE],
    )
    for model, res_id, modules in cr.fetchall():
        owners[(model, res_id)] = set(modules)
    models, fields = {}, {}
    for model_name, res_id in {(m, r) for _mod, m, r, _n in xmlids}:
        if model_name == "ir.model":
            rec = env["ir.model"].browse(res_id)
            Model = env[rec.model]
            table = Model._table if Model._auto and not Model._abstract else None
            models[rec.model] = (owners[(model_name, res_id)], table)
        elif model_name == "ir.model.fields":
            rec = env["ir.model.fields"].browse(res_id)
            field = env[rec.model]._fields.get(rec.name)
            column = rec.name if field is not None and field.store and field.column_type else None
            table = env[rec.model]._table if env[rec.model]._auto else None
            fields[(rec.model, rec.name)] = (owners[(model_name, res_id)], table, column)
    cr.execute(
        "SELECT r.name, m.name FROM ir_model_relation r JOIN ir_module_module m ON m.id = r.module"
    )
    relations = {}
    for name, module in cr.fetchall():
        relations.setdefault(name, set()).add(module)
    return xmlids, owners, models, fields, relations


def table_exists(cr, table):
    cr.execute("SELECT 1 FROM pg_class WHERE relname = %s AND relkind IN ('r', 'v')", [table])
    return bool(cr.rowcount)


def column_exists(cr, table, column):
    cr.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
        [table, column],
    )
    return bool(cr.rowcount)


# Records an addon's uninstall hook keeps on purpose: the firm's data, not the connector's.
RELEASED_ON_UNINSTALL = {
    # The cost-centre analytic accounts (and timesheet lines) refer to it.
    "psa_connector_hr.analytic_plan_cost_centres",
}


def check_gone(env, check, module, removed, snap):
    """After uninstalling `module` (all of `removed` now uninstalled)."""
    cr = env.cr
    xmlids, owners, models, fields, relations = snap
    cr.execute("SELECT count(*) FROM ir_model_data WHERE module = %s", [module])
    check(cr.fetchone()[0] == 0, f"{module}: no ir.model.data rows left")
    cr.execute(
        "SELECT state FROM ir_module_module WHERE name = %s",
        [module],
    )
    check(cr.fetchone()[0] == "uninstalled", f"{module}: state uninstalled")
    # Every record one of its xmlids named is gone, unless a module still installed owns it
    # or the module's uninstall hook released it on purpose (RELEASED_ON_UNINSTALL).
    left = []
    for _mod, model, res_id, name in xmlids:
        if _mod != module or not owners[(model, res_id)] <= removed:
            continue
        if f"{module}.{name}" in RELEASED_ON_UNINSTALL:
            continue
        table = env[model]._table if model in env else model.replace(".", "_")
        if table_exists(cr, table):
            cr.execute(f'SELECT 1 FROM "{table}" WHERE id = %s', [res_id])
            if cr.rowcount:
                left.append(f"{model},{res_id} ({module}.{name})")
    check(
        not left,
        f"{module}: records of its xmlids removed (views, access, rules, menus, ...)",
        str(left[:10]),
    )
    # Its models: no ir.model row, no table; its fields: no ir.model.fields row, no column.
    gone_models = [m for m, (mods, _t) in models.items() if mods <= removed]
    cr.execute("SELECT model FROM ir_model WHERE model = ANY(%s)", [gone_models])
    check(not cr.rowcount, f"{module}: ir.model rows of its models removed", str(cr.fetchall()))
    tables = [t for m, (mods, t) in models.items() if mods <= removed and t and table_exists(cr, t)]
    check(not tables, f"{module}: tables of its models dropped", str(tables))
    left_fields, left_columns = [], []
    for (model, name), (mods, table, column) in fields.items():
        if not mods <= removed:
            continue
        cr.execute("SELECT 1 FROM ir_model_fields WHERE model = %s AND name = %s", [model, name])
        if cr.rowcount:
            left_fields.append(f"{model}.{name}")
        if column and table and table_exists(cr, table) and column_exists(cr, table, column):
            left_columns.append(f"{table}.{column}")
    check(
        not left_fields,
        f"{module}: ir.model.fields rows of its fields removed",
        str(left_fields[:10]),
    )
    check(not left_columns, f"{module}: columns it added dropped", str(left_columns[:10]))
    rel_left = [r for r, mods in relations.items() if mods <= removed and table_exists(cr, r)]
    check(not rel_left, f"{module}: many2many relation tables dropped", str(rel_left))
    # Rows of other models that still name one of its removed models.
    dangling = []
    for ref_model, path in MODEL_NAME_REFERENCES:
        if ref_model not in env:
            continue
        records = env[ref_model].search([(path, "in", gone_models)]) if gone_models else []
        if records:
            dangling.append(f"{ref_model}: {len(records)}")
    check(not dangling, f"{module}: nothing points at its removed models", ", ".join(dangling))


def uninstall_all(db, check, errors):
    cr, env = odoo_env(db)
    with cr:
        snap = snapshot(env)
        print(
            f"snapshot: {len(snap[0])} xmlids, {len(snap[2])} models, {len(snap[3])} fields, "
            f"{len(snap[4])} m2m relations of the suite"
        )
    removed = set()
    for module in reversed(SUITE):
        start = time.time()
        before = len(errors.records)
        cr, env = odoo_env(db)
        with cr:
            env["ir.module.module"].search([("name", "=", module)]).button_immediate_uninstall()
        removed.add(module)
        new_errors = errors.records[before:]
        check(
            not new_errors,
            f"{module}: uninstalled in {time.time() - start:.0f}s, no ERROR logged",
            "; ".join(new_errors[:5]),
        )
        cr, env = odoo_env(db)
        with cr:
            check_gone(env, check, module, removed, snap)
    cr, env = odoo_env(db)
    with cr:
        cr.execute("SELECT relname FROM pg_class WHERE relname LIKE 'psa\\_%%' AND relkind = 'r'")
        check(not cr.rowcount, "no psa_* table left", str(cr.fetchall()))
        cr.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name LIKE 'psa\\_%%'"
        )
        check(not cr.rowcount, "no psa_* column left", str(cr.fetchall()))
    validate_views(db, check, "after uninstall")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("step", choices=["seed", "views", "uninstall"])
    args = parser.parse_args()

    import odoo

    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database, "--no-http"])
    odoo.netsvc.init_logger()
    logging.getLogger().setLevel(logging.WARNING)
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    check = Check()
    if args.step == "seed":
        seed(args.database, check)
    elif args.step == "views":
        validate_views(args.database, check, "suite installed")
    else:
        uninstall_all(args.database, check, errors)
    check(not errors.records, f"{args.step}: no ERROR logged", "; ".join(errors.records[:5]))
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
