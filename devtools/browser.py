"""Headless Chromium over the DevTools protocol: open pages, wait for a selector, evaluate,
save PNG files (make screenshots, the demo check)."""

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

    def open(self, url, selector, timeout=60):
        """Navigate to ``url`` and wait until ``selector`` is on the page."""
        self.send("Page.navigate", url=url)
        self.wait_for(selector, timeout)

    def shoot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        pathlib.Path(path).write_bytes(base64.b64decode(data))
        print(f"saved {path}")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(15)
