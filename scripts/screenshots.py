"""Photograph the finance cockpit with headless Chromium (called by screenshots.sh).

Builds the scratch database (the suite installed, scripts/screenshot_data.py in an
`odoo-bin shell`) unless --reuse finds it, starts Odoo on it, logs in as admin through
Odoo's JSON-RPC, hands the session cookie to Chromium over the DevTools protocol, opens
each screen, waits until it is rendered and saves a PNG; then stops Odoo.
"""

import argparse
import json
import pathlib
import sys

from devtools import ToolError
from devtools.browser import Browser
from devtools.odoo_process import Odoo, OdooServer
from devtools.pg import Postgres
from devtools.rpc import RpcError, WebSession

SCRIPTS = pathlib.Path(__file__).resolve().parent


def say(message):
    print(f"\033[1m==> {message}\033[0m", file=sys.stderr, flush=True)


def scratch_database(odoo, addons, ids_file, reuse):
    """The database to photograph: reused (--reuse) when it and its ids exist, else
    created afresh with the suite and the sample data."""
    postgres = Postgres()
    if reuse and ids_file.is_file() and ids_file.stat().st_size and postgres.exists(odoo.db):
        say(f"Reusing the scratch database {odoo.db} (SHOT_REUSE)")
        return
    say(f"Creating the scratch database {odoo.db} with sample data")
    postgres.drop_database(odoo.db, odoo.run_dir / "data")
    odoo.install(addons, 1800, what="screenshots install")
    odoo.run(
        ["shell", "--no-http", "--logfile=", "--log-level=warn"],
        900,
        "screenshots data",
        stdin_path=SCRIPTS / "screenshot_data.py",
        env_extra={"RUN_DIR": str(odoo.run_dir)},
    )


def main():
    parser = argparse.ArgumentParser()
    for name in ("odoo-src", "conf", "run-dir", "addons", "db", "chromium", "out", "ids"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    args = parser.parse_args()
    odoo = Odoo(
        odoo_src=args.odoo_src,
        python=sys.executable,
        conf=args.conf,
        db=args.db,
        run_dir=args.run_dir,
    )
    server = OdooServer(odoo, f"http://127.0.0.1:{args.port}")
    try:
        scratch_database(odoo, args.addons, pathlib.Path(args.ids), args.reuse)
        say(f"Starting Odoo on port {args.port}")
        server.start(timeout=120)
        photograph(server.url, args)
    except (ToolError, RpcError) as err:
        raise SystemExit(f"error: {err}") from None
    finally:
        server.stop()


def photograph(url, args):
    ids = json.loads(pathlib.Path(args.ids).read_text())
    out = pathlib.Path(args.out)
    session = WebSession(url, args.db, args.login, args.password)
    browser = Browser(args.chromium)
    try:
        browser.send("Network.setCookie", name="session_id", value=session.session_id, url=url)
        action = f"{url}/odoo/action-psa_connector_base."
        dashboard = (f"{action}action_psa_dashboard", ".o_psa_dashboard .o_kanban_record")
        for page, selector, name in (
            (
                f"{action}action_psa_exception/{ids['exception']}",
                ".o_form_view .o_psa_explanation",
                "exception_form.png",
            ),
            (
                f"{action}action_psa_exception/{ids['conflict']}",
                ".o_form_view .o_psa_conflict",
                "exception_conflict.png",
            ),
            (
                f"{action}action_psa_exception?view_type=kanban",
                ".o_kanban_view .o_kanban_group .o_kanban_record",
                "exception_queue.png",
            ),
            (*dashboard, "dashboard.png"),
        ):
            browser.open(page, selector)
            browser.shoot(out / name)

        # Wide enough for every month's measures and the total.
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=2200,
            height=640,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.open(
            f"{url}/odoo/action-psa_connector_billing.action_psa_project_financial",
            ".o_pivot_view .o_pivot table tbody tr",
        )
        if browser.evaluate("!!document.querySelector('.o_error_dialog')"):
            raise RuntimeError("the project financials pivot opened on an error")
        browser.shoot(out / "project_financials_pivot.png")
        browser.send("Emulation.clearDeviceMetricsOverride")

        browser.open(*dashboard)
        browser.evaluate(
            "odoo.__WOWL_DEBUG__.root.env.services.action.doAction({"
            "type: 'ir.actions.act_window', res_model: 'psa.backend.setup.wizard',"
            f" res_id: {int(ids['wizard'])}, views: [[false, 'form']], target: 'new',"
            " name: 'Set up a connected system'})"
        )
        browser.wait_for(".modal .o_psa_connection_ok")
        browser.shoot(out / "backend_setup.png")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
