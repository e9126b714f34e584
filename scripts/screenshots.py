"""Photograph the finance cockpit with headless Chromium (called by screenshots.sh).

Logs in as admin through Odoo's JSON-RPC, hands the session cookie to Chromium over
the DevTools protocol, opens each screen, waits until it is rendered and saves a PNG.
"""

import argparse
import base64
import json
import pathlib
import socket
import subprocess
import tempfile
import time

import requests
import websocket


class Browser:
    def __init__(self, binary, width=1440, height=1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.profile = tempfile.mkdtemp(prefix="psa_shots_")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ws = websocket.create_connection(self._page_ws(), timeout=60)
        self.next_id = 0
        self.send("Page.enable")
        self.send("Network.enable")

    def _page_ws(self):
        for _ in range(100):
            try:
                pages = requests.get(f"http://127.0.0.1:{self.port}/json", timeout=2).json()
                for page in pages:
                    if page.get("type") == "page":
                        return page["webSocketDebuggerUrl"]
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("Chromium did not open its DevTools port")

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        return result.get("result", {}).get("value")

    def wait_for(self, selector, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.evaluate(f"!!document.querySelector({json.dumps(selector)})"):
                time.sleep(1.0)  # let images, avatars and fonts settle
                return
            time.sleep(0.3)
        raise RuntimeError(f"{selector!r} did not appear")

    def shoot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        pathlib.Path(path).write_bytes(base64.b64decode(data))
        print(f"saved {path}")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(15)


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

    session = requests.Session()
    response = session.post(
        f"{args.url}/web/session/authenticate",
        json={"params": {"db": args.db, "login": args.login, "password": args.password}},
        timeout=60,
    )
    response.raise_for_status()
    if response.json().get("error"):
        raise SystemExit(f"login failed: {response.json()['error']}")
    browser = Browser(args.chromium)
    try:
        browser.send(
            "Network.setCookie",
            name="session_id",
            value=session.cookies["session_id"],
            url=args.url,
        )
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
