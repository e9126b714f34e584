"""Every screen of the suite opens, for every role that has it, in a real browser.

The window actions are read from ir.model.data at test time (every xml id of a
psa_connector_* module), so a new action or view type is swept without editing this
test. For each role, one script in headless Chromium opens each (action, view type)
through the web client's action service, waits for the view to render and records any
error dialog; the browser's console errors and every ERROR record logged by the server
while the browser works fail the test too.
"""

import json
import logging
import shutil
from datetime import date

from odoo.tests import new_test_user
from odoo.tools.safe_eval import safe_eval

from .common import SuiteHttpCase

_logger = logging.getLogger(__name__)

# The roles a user of the suite has, besides the administrator. The HR officer has
# no connector group: the payroll screens reach them under Employees.
ROLES = {
    "Connector User": "psa_connector_base.group_connector_user",
    "Connector Manager": "psa_connector_base.group_connector_manager",
    "HR officer": "hr.group_hr_user",
    "Accountant": "psa_connector_base.group_connector_user,account.group_account_manager",
}

# Opens each screen in turn; SCREENS is replaced by the list for the role.
SWEEP_JS = r"""
(async () => {
    const screens = SCREENS;
    const env = odoo.__WOWL_DEBUG__.root.env;
    const action = env.services.action;
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const errorDialog = () => {
        for (const dialog of document.querySelectorAll(".o_dialog")) {
            const title = dialog.querySelector(".modal-title");
            const text = (title && title.textContent) || "";
            if (dialog.querySelector(".o_error_dialog") || /oops|error/i.test(text)) {
                const body = dialog.querySelector(".modal-body");
                return (text + ": " + ((body && body.textContent) || "")).slice(0, 600);
            }
        }
        return null;
    };
    const closeDialogs = () => {
        for (const button of document.querySelectorAll(".o_dialog .btn-close")) {
            button.click();
        }
    };
    const failures = [];
    let opened = 0;
    for (const screen of screens) {
        const label = `${screen.xmlid} [${screen.viewType}]`;
        const where = screen.target === "new" ? ".o_dialog" : ".o_action_manager";
        const selector = `${where} .o_view_controller.o_${screen.viewType}_view`;
        const before = document.querySelector(selector);
        const options = { viewType: screen.viewType, clearBreadcrumbs: true };
        if (screen.resId) {
            options.props = { resId: screen.resId };
        }
        let thrown = null;
        action.doAction(screen.action, options).catch((error) => {
            thrown = (error && (error.message || error.data?.message)) || String(error);
        });
        let view = null;
        let dialog = null;
        const deadline = Date.now() + 30000;
        while (Date.now() < deadline) {
            await sleep(50);
            dialog = errorDialog();
            const candidate = document.querySelector(selector);
            if (candidate && candidate !== before && candidate.querySelector(".o_content, .o_form_sheet_bg, .o_form_renderer")) {
                view = candidate;
            }
            if (dialog || thrown || view) {
                break;
            }
        }
        // Late RPCs (search panel, sample data, counters) may still fail: let them land.
        await sleep(300);
        dialog = dialog || errorDialog();
        if (dialog || thrown || !view) {
            const reason = dialog || thrown || "the view did not render within 30 s";
            failures.push(`${label}: ${reason}`);
            console.log(`screen sweep: ${label} failed: ${reason}`);
            closeDialogs();
            await sleep(100);
        } else {
            opened++;
        }
        if (screen.target === "new") {
            closeDialogs();
            await sleep(50);
        }
    }
    console.log(`screen sweep: ${opened} of ${screens.length} screens opened as LOGIN`);
    if (failures.length) {
        console.error(`screen sweep as LOGIN, ${failures.length} failed:\n${failures.join("\n")}`);
    } else {
        console.log("test successful");
    }
})();
"""


class ErrorRecords(logging.Handler):
    """Keeps the ERROR records the server logs while the browser works."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        # The browser's own console lines are counted separately.
        if not record.name.startswith("odoo.tests"):
            self.records.append(f"{record.name}: {self.format(record)}")


class TestScreenSweep(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Demo-like data: the demo PSA (which also plays the HR and forecast systems)
        # pulled into Odoo, its approved time invoiced and posted, capacity computed.
        cls.simulator = cls.start_simulator()
        backends = {}
        for code, kind in (("sweep-psa", "psa"), ("sweep-hr", "hr"), ("sweep-fc", "forecast")):
            backends[kind] = cls._create_backend(
                code=code, name=f"Sweep {kind}", kind=kind, base_url=cls.simulator.url
            )
        cls.backend = backends["psa"]
        for kind in ("hr", "psa", "forecast"):
            backends[kind].action_pull_now()
            cls.run_jobs()
        cls.env["psa.capacity.day"]._compute_period(date(2026, 10, 26), date(2026, 12, 27))
        cls.backend.action_create_draft_invoices()
        cls.run_jobs()
        drafts = cls.env["account.move"].search(
            [("move_type", "=", "out_invoice"), ("state", "=", "draft")]
        )
        drafts.filtered(lambda move: not move.invoice_date).invoice_date = date(2026, 11, 30)
        drafts.action_post()
        cls.run_jobs()
        cls.users = {
            role: new_test_user(
                cls.env,
                login=f"sweep_{role.lower().replace(' ', '_')}",
                name=f"Sweep {role}",
                groups=f"base.group_user,{groups}",
            )
            for role, groups in ROLES.items()
        }

    def setUp(self):
        super().setUp()
        self.assertTrue(
            shutil.which("chromium") or shutil.which("google-chrome"),
            "Chromium is needed for the screen sweep (scripts/test.sh installs it).",
        )

    def suite_actions(self):
        data = self.env["ir.model.data"].search(
            [("model", "=", "ir.actions.act_window"), ("module", "=like", "psa_connector_%")],
            order="module, name",
        )
        return [
            (f"{row.module}.{row.name}", self.env["ir.actions.act_window"].browse(row.res_id))
            for row in data
        ]

    def screens_for(self, user, actions):
        """(action, view type) pairs ``user`` can reach: all for the administrator, else
        those behind a menu the user sees (Odoo's own menu filter, which also checks the
        model's read access)."""
        admin = user == self.env.ref("base.user_admin")
        Menu = self.env["ir.ui.menu"].with_user(user)
        visible = Menu.browse(Menu._visible_menu_ids())
        reachable = {menu.action.id for menu in visible if menu.action}
        screens = []
        for xmlid, action in actions:
            if not admin and action.id not in reachable:
                continue
            Model = self.env[action.res_model].with_user(user)
            domain = safe_eval(action.domain or "[]", {"uid": user.id, "context": {}})
            record = Model.browse() if Model._transient else Model.search(domain, limit=1)
            for view_type in action.view_mode.split(","):
                screens.append(
                    {
                        "xmlid": xmlid,
                        "action": action.id,
                        "viewType": view_type.strip(),
                        "target": action.target,
                        # A form opens on a record the user may read, else a new one.
                        "resId": record.id if view_type.strip() == "form" else False,
                    }
                )
        return screens

    def test_every_screen_opens_for_every_role_without_an_error(self):
        actions = self.suite_actions()
        self.assertGreaterEqual(len(actions), 20, "the suite's window actions were not found")
        self.assertIn(
            "psa_connector_billing.action_psa_project_financial",
            [xmlid for xmlid, _action in actions],
        )
        sweeps = [("admin", self.env.ref("base.user_admin"))]
        sweeps += [(user.login, user) for user in self.users.values()]
        browser_failures, server_errors, summaries = [], [], {}
        handler = ErrorRecords()
        handler.setFormatter(logging.Formatter("%(message)s"))
        root = logging.getLogger()
        for login, user in sweeps:
            screens = self.screens_for(user, actions)
            summaries[login] = len(screens)
            if not screens:
                continue
            code = SWEEP_JS.replace("SCREENS", json.dumps(screens)).replace("LOGIN", login)
            root.addHandler(handler)
            try:
                # A failed screen, a console error or an uncaught exception fails the
                # role's run; the other roles are still swept, the test fails at the end.
                self.browser_js(
                    "/odoo",
                    code,
                    ready="odoo.isReady === true",
                    login=login,
                    timeout=60 + 10 * len(screens),
                )
            except AssertionError as error:
                browser_failures.append(f"as {login}: {str(error)[-3000:]}")
            finally:
                root.removeHandler(handler)
            server_errors += [f"as {login}: {record}" for record in handler.records]
            handler.records = []
        total = sum(summaries.values())
        report = ", ".join(f"{login} {count}" for login, count in summaries.items())
        message = f"screen sweep: {total} screens x roles swept ({report})"
        _logger.info(message)
        print(message)
        self.assertFalse(browser_failures, "\n\n".join(browser_failures))
        self.assertFalse(server_errors, "\n".join(server_errors))
        # Every role met the screens it should: admin all of them, each role some.
        self.assertEqual(
            summaries["admin"],
            sum(len(action.view_mode.split(",")) for _xmlid, action in actions),
        )
        self.assertTrue(all(summaries.values()), f"a role reached no screen: {summaries}")
