"""Photograph the finance cockpit with headless Chromium (called by screenshots.sh).

Logs in as admin through Odoo's JSON-RPC, hands the session cookie to Chromium over
the DevTools protocol (devtools.browser), opens each screen, waits until it is rendered
and saves a PNG.
"""

import argparse
import json
import pathlib

from devtools.browser import Browser
from devtools.rpc import RpcError, WebSession


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    args = parser.parse_args()
    ids = json.loads(pathlib.Path(args.ids).read_text())
    out = pathlib.Path(args.out)

    try:
        session = WebSession(args.url, args.db, args.login, args.password)
    except RpcError as err:
        raise SystemExit(str(err)) from None
    browser = Browser(args.chromium)
    try:
        browser.send("Network.setCookie", name="session_id", value=session.session_id, url=args.url)
        action = "/odoo/action-psa_connector_base."
        browser.send(
            "Page.navigate", url=f"{args.url}{action}action_psa_exception/{ids['exception']}"
        )
        browser.wait_for(".o_form_view .o_psa_explanation")
        browser.shoot(out / "exception_form.png")

        browser.send(
            "Page.navigate", url=f"{args.url}{action}action_psa_exception/{ids['conflict']}"
        )
        browser.wait_for(".o_form_view .o_psa_conflict")
        browser.shoot(out / "exception_conflict.png")

        browser.send(
            "Page.navigate", url=f"{args.url}{action}action_psa_exception?view_type=kanban"
        )
        browser.wait_for(".o_kanban_view .o_kanban_group .o_kanban_record")
        browser.shoot(out / "exception_queue.png")

        browser.send("Page.navigate", url=f"{args.url}{action}action_psa_dashboard")
        browser.wait_for(".o_psa_dashboard .o_kanban_record")
        browser.shoot(out / "dashboard.png")

        # Wide enough for every month's measures and the total.
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=2200,
            height=640,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.send(
            "Page.navigate",
            url=f"{args.url}/odoo/action-psa_connector_billing.action_psa_project_financial",
        )
        browser.wait_for(".o_pivot_view .o_pivot table tbody tr")
        if browser.evaluate("!!document.querySelector('.o_error_dialog')"):
            raise RuntimeError("the project financials pivot opened on an error")
        browser.shoot(out / "project_financials_pivot.png")
        browser.send("Emulation.clearDeviceMetricsOverride")

        browser.send("Page.navigate", url=f"{args.url}{action}action_psa_dashboard")
        browser.wait_for(".o_psa_dashboard .o_kanban_record")
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
