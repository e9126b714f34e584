"""Every control enforced on the server: the privilege matrix, tried over JSON-RPC.

Each role (portal, internal user, project manager, HR officer, accountant, Connector
User, Connector Manager, another company's Connector Manager) calls ``/jsonrpc``
``execute_kw`` with its own login and password, on every model of the suite (every
``psa.*`` model of the registry, wizards included) and on the standard models' fields
the suite adds: read, create, unlink, a write of every stored field (one call per
field), and a call of every public method a ``psa_connector_*`` module defines. Every
outcome is compared with ONE declared matrix, the table of
``psa_connector_base/readme/SECURITY.md``; the test fails on any grant beyond it (a
denied cell that succeeded) and, reported apart, on any lock-out (an allowed cell the
server refused), listing all of them at once.

Records are prepared once, as the superuser, in company A. Each attempt runs inside a
savepoint of the test transaction that is rolled back right after the request (the
test server shares the test cursor), so an attempt that succeeds changes nothing for
the next one. Wizard rows are prepared per role (a transient row is its creator's). A
role without the model's write ACL tries all fields in one write (the ACL refuses it
before any field is looked at); should that write not be denied, each field is tried
alone. The budget: about 2,000 calls, 20-60 s on two busy cores.

Outcomes: ``allowed`` (the call returned), ``denied`` (AccessError/AccessDenied, or a
record rule hiding the record), ``refused`` (a business error such as a UserError or
ValidationError: nothing happened, but the access checks cannot be told apart; never
a mismatch), ``error`` (anything else: listed, never a mismatch). A grant is an
``allowed`` outcome in a ``-`` cell; a lock-out a ``denied`` outcome in a ``Y`` cell.

Output: a compact summary is printed (``pytest -rP`` or ``-s`` shows it on success);
``PSA_MATRIX_TABLE=1`` prints every attempt with its outcome, ``PSA_MATRIX_REPORT=path``
writes summary and table to a file.
"""

import base64
import fnmatch
import inspect
import logging
import os
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

from odoo import Command, fields, models
from odoo.tests import new_test_user

from odoo.addons.psa_connector_base.tools.access import workflow_write
from odoo.addons.psa_connector_hr.tests.common import employee_data

from .common import SuiteHttpCase

SECURITY_MD = Path(__file__).resolve().parents[1] / "psa_connector_base/readme/SECURITY.md"
SUITE_PREFIX = "psa_connector_"
# The HR system's hourly cost of the prepared employee: it must not reach a reader
# without cost rights through any channel (payloads, audit values, fields).
COST = 87.65
COST_TEXT = "87.65"

# Fields never tried: the ORM's own columns and the mail mixins' (governed by mail).
MAGIC_FIELDS = {"id", "create_uid", "create_date", "write_uid", "write_date", "display_name"}
MIXIN_PREFIXES = (
    "message_",
    "activity_",
    "my_activity_",
    "website_message",
    "rating_",
    "has_message",
)
# ORM entry points are tried as create/write/unlink/read, not as methods.
ORM_METHODS = {name for name in dir(models.BaseModel) if not name.startswith("_")}
# Obvious arguments of public methods that need one.
METHOD_ARGUMENTS = {"reason": "Privilege matrix: not needed"}
# Operations without a ":<name>" part.
BARE_OPERATIONS = {"read", "create", "unlink", "*"}
# Error names that mean "the server refused on access grounds".
DENIED_ERRORS = ("odoo.exceptions.AccessError", "odoo.exceptions.AccessDenied")
REFUSED_ERRORS = (
    "odoo.exceptions.UserError",
    "odoo.exceptions.ValidationError",
    "odoo.exceptions.MissingError",
    "odoo.exceptions.RedirectWarning",
)
# The issue's concrete cases, each (model, operation, role) that must be denied.
ISSUE_CASES = [
    (
        "Connector Manager makes themselves Settings admin (pending link + binding)",
        [("res.users", "scenario:grant_system_group", "cm")],
    ),
    ("HR officer creates a payroll batch", [("psa.payroll.batch", "create", "hr")]),
    (
        "HR officer writes a batch's state / approver / payload",
        [
            ("psa.payroll.batch", f"write:{name}", "hr")
            for name in ("state", "approved_by_id", "payload")
        ],
    ),
    (
        "Connector User writes payload-edit bookkeeping / event link of an exception",
        [
            ("psa.exception", f"write:{name}", "cu")
            for name in ("payload_edited_by_id", "payload_edited", "event_id")
        ],
    ),
    (
        "Connector User reads the hourly cost in HR payloads / audit values",
        [
            (model, "read:hr_cost", "cu")
            for model in ("psa.event", "psa.exception", "psa.audit.log")
        ],
    ),
    (
        "A user rewrites a reconciliation line's missing entries",
        [("psa.timesheet.reconciliation.line", "write:missing_entries", "cu")],
    ),
    (
        "Pulls, pushes, capacity recompute by an internal user or Connector User",
        [
            (model, f"call:{method}", role)
            for role in ("internal", "cu")
            for model, method in (
                ("psa.backend", "action_pull_now"),
                ("psa.backend", "action_push_actuals_now"),
                ("psa.backend", "action_push_project_financials"),
                ("psa.utilisation.compute.wizard", "action_compute"),
            )
        ],
    ),
]
# The loggers the denied attempts would flood (thousands of expected refusals).
QUIET_LOGGERS = ("odoo.http", "odoo.service.model", "odoo.models", "odoo.sql_db")


# The matrix -----------------------------------------------------------------------------


def parse_matrix(text):
    """(roles, rows) of the first table whose header starts with ``model | operation``.

    Each row is (model pattern, operation pattern, {role: allowed}); the model cell may
    list several models ``a|b``, the operation cell several operations
    (``read|write:a|b|call:x``), and ``Y``/``-`` cells say allowed/denied.
    """
    roles, rows = None, []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            if roles and rows:
                break
            continue
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if roles is None:
            if [c.lower() for c in cells[:2]] == ["model", "operation"]:
                roles = cells[2:]
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the separator row
        # Escaped pipes inside the operation cell: "write:a\|b" in Markdown.
        line = line.replace("\\|", "\x00")
        cells = [c.strip().strip("`").replace("\x00", "|") for c in line.strip("|").split("|")]
        model, operation, values = cells[0], cells[1], cells[2:]
        assert len(values) == len(roles), f"SECURITY.md: wrong cell count in {line!r}"
        assert all(v in ("Y", "-") for v in values), f"SECURITY.md: cells are Y or - ({line!r})"
        allowed = dict(zip(roles, [v == "Y" for v in values], strict=True))
        for model_name in model.split("|"):
            for op in split_operations(operation):
                rows.append((model_name.strip(), op, allowed))
    assert roles, "SECURITY.md holds no 'model | operation | roles...' table"
    return roles, rows


def split_operations(cell):
    """``read|create|write:a|b|unlink`` -> read, create, write:a, write:b, unlink."""
    result, prefix = [], None
    for token in cell.split("|"):
        token = token.strip()
        if ":" in token:
            prefix = token.split(":", 1)[0]
            result.append(token)
        elif token in BARE_OPERATIONS or prefix is None:
            prefix = None
            result.append(token)
        else:
            result.append(f"{prefix}:{token}")
    return result


def row_for(rows, model, operation):
    """The most specific row for (model, operation): exact names beat patterns."""
    best, best_score = None, None
    for index, (model_pat, op_pat, cells) in enumerate(rows):
        if not (fnmatch.fnmatchcase(model, model_pat) and fnmatch.fnmatchcase(operation, op_pat)):
            continue
        score = (
            model_pat == model,
            len(model_pat.replace("*", "")),
            op_pat == operation,
            len(op_pat.replace("*", "")),
            -index,
        )
        if best_score is None or score > best_score:
            best, best_score = (index, cells), score
    return best


# The test -------------------------------------------------------------------------------


class TestPrivilegeMatrix(SuiteHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.roles, cls.rows = parse_matrix(SECURITY_MD.read_text())
        cls.company = cls.env.company
        cls.company.currency_id = cls.env.ref("base.EUR")
        cls.company_b = cls.env["res.company"].create({"name": "Matrix Other Ltd"})
        cls._create_users()
        cls._prepare_records()
        cls.env.flush_all()

    # Users ------------------------------------------------------------------------------

    @classmethod
    def _create_users(cls):
        def user(login, groups, **values):
            return new_test_user(cls.env, login, groups=groups, **values)

        cls.users = {
            "portal": user("mx_portal", "base.group_portal"),
            "internal": user("mx_internal", "base.group_user"),
            "pm": user("mx_pm", "project.group_project_manager"),
            "hr": user("mx_hr", "hr.group_hr_user"),
            "acct": user("mx_acct", "account.group_account_invoice"),
            "cu": user("mx_cu", "psa_connector_base.group_connector_user"),
            "cm": user("mx_cm", "psa_connector_base.group_connector_manager"),
            "other": user(
                "mx_other",
                "psa_connector_base.group_connector_manager",
                company_id=cls.company_b.id,
                company_ids=[Command.set(cls.company_b.ids)],
            ),
        }
        assert set(cls.users) == set(
            cls.roles
        ), f"SECURITY.md columns {cls.roles} are not the test's roles {sorted(cls.users)}"

    # Records ----------------------------------------------------------------------------

    @classmethod
    def _prepare_records(cls):
        env = cls.env
        rec = cls.records = {}
        backend = cls.backend = cls._create_backend(code="mx-psa", max_attempts=1)
        cls.backend2 = cls._create_backend(code="mx-psa2", name="Second PSA", max_attempts=1)
        cls.hr_backend = cls._create_backend(code="mx-hr", kind="hr", max_attempts=1)
        cls.backend_b = cls._create_backend(
            code="mx-b", company_id=cls.company_b.id, max_attempts=1
        )
        rec["psa.backend"] = backend
        partner = cls.partner = env["res.partner"].create({"name": "Matrix Customer"})
        project = cls.project = env["project.project"].create(
            {
                "name": "Matrix Project",
                "partner_id": partner.id,
                "allow_timesheets": True,
                "company_id": cls.company.id,
            }
        )
        employee = cls.employee = env["hr.employee"].create(
            {"name": "Matrix Employee", "work_email": "mx.employee@example.com"}
        )
        rec["hr.employee"] = employee
        rec["project.project"] = project
        rec["account.analytic.line"] = env["account.analytic.line"].create(
            {
                "name": "Matrix work",
                "project_id": project.id,
                "employee_id": employee.id,
                "unit_amount": 2.0,
                "date": "2026-09-10",
            }
        )
        # Standard records carrying the suite's fields.
        service = env["product.product"].create(
            {"name": "Matrix Service", "type": "service", "can_be_expensed": True}
        )
        order = env["sale.order"].create(
            {
                "partner_id": partner.id,
                "company_id": cls.company.id,
                "order_line": [Command.create({"product_id": service.id})],
            }
        )
        rec["sale.order"] = order
        rec["sale.order.line"] = order.order_line[:1]
        rec["purchase.order"] = env["purchase.order"].create(
            {"partner_id": partner.id, "company_id": cls.company.id}
        )
        rec["hr.expense"] = env["hr.expense"].create(
            {
                "name": "Matrix taxi",
                "employee_id": employee.id,
                "product_id": service.id,
                "total_amount_currency": 20.0,
                "company_id": cls.company.id,
            }
        )
        # The HR system's view of a person, with an hourly cost: event, audit, history.
        data = employee_data(
            id="E-MX", name="Costly Person", work_email="costly@example.com", email=None
        )
        data.update(hourly_cost=COST, currency=cls.company.currency_id.name, department_id=None)
        cls.hr_event = cls.apply("employee.created", data, backend=cls.hr_backend)
        assert cls.hr_event.state == "done", cls.hr_event.result
        cls.hr_audit = env["psa.audit.log"].search(
            [("backend_id", "=", cls.hr_backend.id), ("values", "like", COST_TEXT)]
        )
        assert cls.hr_audit, "the HR import logged no cost"
        # (Before the PSA's events: applying runs every pending job.)
        event = cls.receive("customer.created", {"id": "C-MX", "name": "x"}, backend=backend)
        cls.receive("customer.created", {"id": "C-MX2", "name": "y"}, backend=backend)
        rec["psa.event"] = event
        Exception_ = env["psa.exception"]
        rec["psa.exception"] = Exception_.create(
            {
                "name": "Matrix problem",
                "category": "validation",
                "backend_id": backend.id,
                "event_id": event.id,
                "payload": '{"id": "C-MX"}',
            }
        )
        cls.waiting_exception = Exception_.create(
            {
                "name": "Waits for a customer",
                "category": "missing_reference",
                "backend_id": backend.id,
                "event_id": event.id,
                "waiting_type": "customer",
                "waiting_external_id": "C-404",
            }
        )
        rec["psa.binding"] = env["psa.binding"].create(
            {
                "backend_id": backend.id,
                "external_type": "customer",
                "external_id": "C-MX",
                "res_model": "res.partner",
                "res_id": partner.id,
            }
        )
        rec["psa.audit.log"] = env["psa.audit.log"]._log(
            backend, "in", "create", "customer", "C-MX", record=partner
        )
        rec["psa.ownership.rule"] = backend.ownership_rule_ids[:1]
        rec["psa.state.mapping"] = backend.state_mapping_ids[:1]
        rec["psa.sync.watermark"] = env["psa.sync.watermark"]._for(backend, "customer")
        rec["psa.alert.rule"] = env["psa.alert.rule"].create(
            {
                "name": "Matrix alert",
                "metric": "queue_depth",
                "threshold": 100,
                "user_id": cls.users["cm"].id,
            }
        )
        cls.hr_exception = Exception_.create(
            {
                "name": "HR problem",
                "category": "validation",
                "backend_id": cls.hr_backend.id,
                "event_id": cls.hr_event.id,
                "payload": cls.hr_event.payload,
            }
        )
        cls.costly = env["hr.employee"]._psa_from_external_id(cls.company, "E-MX")
        rec["psa.employee.cost.history"] = env["psa.employee.cost.history"].search(
            [("employee_id", "=", cls.costly.id)], limit=1
        )
        rec["psa.pending.link"] = env["psa.pending.link"].create(
            {
                "backend_id": cls.hr_backend.id,
                "res_model": "hr.employee",
                "res_id": employee.id,
                "field_name": "parent_id",
                "external_type": "employee",
                "external_id": "E-LATER",
            }
        )
        rec["psa.leaver"] = env["psa.leaver"].create(
            {"employee_id": employee.id, "backend_id": cls.hr_backend.id, "end_date": "2026-09-30"}
        )
        reconciliation = env["psa.timesheet.reconciliation"].create(
            {"backend_id": backend.id, "date_from": "2026-09-01", "date_to": "2026-09-30"}
        )
        rec["psa.timesheet.reconciliation"] = reconciliation
        rec["psa.timesheet.reconciliation.line"] = env["psa.timesheet.reconciliation.line"].create(
            {
                "reconciliation_id": reconciliation.id,
                "project_external_id": "P-MX",
                "date": "2026-09-10",
                "psa_hours": 3.0,
                "kind": "missing_in_odoo",
                "missing_entries": '[{"id": "TE-MX", "hours": 3}]',
                "missing_count": 1,
            }
        )
        rec["psa.billing.event.record"] = env["psa.billing.event.record"]._claim(
            backend, "BE-MX", {"kind": "milestone.accepted", "amount": 100.0}
        )
        with workflow_write():
            rec["psa.anomaly"] = env["psa.anomaly"].create(
                {
                    "kind": "hours_per_day",
                    "detection_key": "hours_per_day:matrix",
                    "message": "14.00 h on a day; normal 8.00 h",
                    "backend_id": backend.id,
                    "company_id": backend.company_id.id,
                }
            )
        rec["psa.vendor.bill.record"] = env["psa.vendor.bill.record"]._claim(
            backend, "VB-MX", {"kind": "vendor_invoice", "amount": 50.0}
        )
        rec["psa.allocation"] = env["psa.allocation"].create(
            {
                "employee_id": employee.id,
                "project_id": project.id,
                "date_from": "2026-09-07",
                "date_to": "2026-09-11",
                "hours_per_day": 4.0,
            }
        )
        env["psa.capacity.day"]._compute_period(
            fields.Date.to_date("2026-09-07"), fields.Date.to_date("2026-09-13"), employee
        )
        rec["psa.capacity.day"] = env["psa.capacity.day"].search(
            [("employee_id", "=", employee.id)], limit=1
        )
        rec["psa.forecast.push"] = env["psa.forecast.push"].create(
            {"backend_id": backend.id, "project_id": project.id}
        )
        period = env["psa.payroll.period"].create(
            {
                "date_start": "2026-09-01",
                "date_end": "2026-09-30",
                "cutoff": "2026-10-02 12:00:00",
                "company_id": cls.company.id,
            }
        )
        rec["psa.payroll.period"] = period
        batch = env["psa.payroll.batch"].create({"period_id": period.id, "kind": "regular"})
        rec["psa.payroll.batch"] = batch
        rec["psa.payroll.entry"] = env["psa.payroll.entry"].create(
            {
                "batch_id": batch.id,
                "employee_id": employee.id,
                "category": "normal",
                "date": "2026-09-10",
                "hours": 2.0,
                "source_model": "account.analytic.line",
                "source_id": rec["account.analytic.line"].id,
                "source_name": "Matrix work",
            }
        )
        rec["psa.payroll.batch.line"] = env["psa.payroll.batch.line"].create(
            {"batch_id": batch.id, "employee_id": employee.id, "category": "normal", "hours": 2.0}
        )
        rec["psa.payroll.check"] = env["psa.payroll.check"].create(
            {
                "batch_id": batch.id,
                "kind": "no_payroll_id",
                "employee_id": employee.id,
                "name": "Matrix Employee has no payroll ID.",
            }
        )
        # Views: any row will do (the prepared records above feed them).
        for view in ("psa.project.financial", "psa.utilisation.report", "psa.exception.group"):
            env.flush_all()
            rec[view] = env[view].search([("company_id", "=", cls.company.id)], limit=1, order="id")

    # Values -----------------------------------------------------------------------------

    def create_values(self, model, role=None):
        """Minimal valid values to create one record of ``model`` (None: not tried)."""
        suffix = role or "x"
        backend = self.backend.id
        rec = self.records
        values = {
            "psa.backend": {"name": "New", "code": f"mx-new-{suffix}"},
            "psa.binding": {
                "backend_id": backend,
                "external_type": "customer",
                "external_id": f"C-NEW-{suffix}",
                "res_model": "res.partner",
                "res_id": self.env.ref("base.main_partner").id,
            },
            "psa.event": {
                "backend_id": backend,
                "event_uid": f"forged-{suffix}",
                "event_type": "customer.created",
                "source": "webhook",
            },
            "psa.exception": {"name": "Forged", "category": "validation", "backend_id": backend},
            "psa.audit.log": {"backend_id": backend, "direction": "in", "operation": "create"},
            "psa.ownership.rule": {
                "backend_id": backend,
                "object_type": "customer",
                "field_name": f"comment_{suffix}",
            },
            "psa.state.mapping": {
                "backend_id": backend,
                "object_type": "task",
                "external_state": f"mx_{suffix}",
            },
            "psa.sync.watermark": {"backend_id": backend, "object_type": f"mx_{suffix}"},
            "psa.backend.setup.wizard": {"name": "Wizard", "code": f"mx-wiz-{suffix}"},
            "psa.four.eyes.rule": {"object_type": f"mx_{suffix}", "approval_required": True},
            "psa.alert.rule": {
                "name": f"Matrix alert {suffix}",
                "metric": "queue_depth",
                "threshold": 1,
            },
            "psa.exception.ignore.wizard": {
                "exception_ids": [Command.set(rec["psa.exception"].ids)],
                "reason": "Duplicate",
            },
            "psa.exception.map.wizard": {"exception_id": self.waiting_exception.id},
            "psa.timesheet.reconciliation": {
                "backend_id": backend,
                "date_from": "2026-10-01",
                "date_to": "2026-10-31",
            },
            "psa.timesheet.reconciliation.line": {
                "reconciliation_id": rec["psa.timesheet.reconciliation"].id,
                "kind": "extra_in_odoo",
            },
            "psa.billing.event.record": {"backend_id": backend, "idempotency_key": f"BE-{suffix}"},
            "psa.vendor.bill.record": {"backend_id": backend, "idempotency_key": f"VB-{suffix}"},
            "psa.anomaly": {
                "kind": "rate",
                "detection_key": f"rate:matrix:{suffix}",
                "backend_id": backend,
                "company_id": self.company.id,
            },
            "psa.anomaly.acknowledge.wizard": {
                "anomaly_ids": [Command.set(rec["psa.anomaly"].ids)],
                "note": "Checked with the project lead",
            },
            "psa.allocation": {
                "employee_id": self.employee.id,
                "project_id": self.project.id,
                "date_from": "2026-10-05",
                "date_to": "2026-10-09",
                "hours_per_day": 2.0,
            },
            "psa.capacity.day": {
                "employee_id": self.employee.id,
                "company_id": self.company.id,
                "date": "2026-10-05",
                "week_start": "2026-10-05",
            },
            "psa.forecast.push": {"backend_id": self.backend2.id, "project_id": self.project.id},
            "psa.utilisation.compute.wizard": {"date_from": "2026-09-07", "date_to": "2026-09-13"},
            "psa.employee.cost.history": {
                "employee_id": self.employee.id,
                "effective_date": "2026-10-01",
                "hourly_cost": 10.0,
                "currency_id": self.company.currency_id.id,
            },
            "psa.pending.link": {
                "backend_id": self.hr_backend.id,
                "res_model": "hr.employee",
                "res_id": self.employee.id,
                "field_name": "coach_id",
                "external_type": "employee",
                "external_id": f"E-{suffix}",
            },
            "psa.payroll.period": {
                "date_start": "2026-11-01",
                "date_end": "2026-11-30",
                "cutoff": "2026-12-02 12:00:00",
                "company_id": self.company.id,
            },
            "psa.payroll.batch": {"period_id": rec["psa.payroll.period"].id},
            "psa.payroll.entry": {
                "batch_id": rec["psa.payroll.batch"].id,
                "employee_id": self.employee.id,
                "category": "overtime",
                "source_model": "account.analytic.line",
            },
            "psa.payroll.batch.line": {
                "batch_id": rec["psa.payroll.batch"].id,
                "employee_id": self.employee.id,
                "category": "overtime",
            },
            "psa.payroll.check": {
                "batch_id": rec["psa.payroll.batch"].id,
                "kind": "above_ceiling",
                "name": "Forged finding",
            },
        }
        return values.get(model)

    def write_value(self, record, field, role):
        """A plausible new value for ``field`` (an attack where one is obvious)."""
        name, ftype = field.name, field.type
        current = record[name]
        special = {
            ("psa.payroll.batch", "state"): "approved",
            ("psa.payroll.period", "state"): "sent",
            ("psa.exception", "state"): "resolved",
            ("psa.event", "state"): "done",
            ("psa.payroll.check", "state"): "accepted",
        }
        if (record._name, name) in special:
            return special[(record._name, name)]
        if ftype in ("char", "text"):
            if name in ("payload", "values", "synced_values", "technical_detail") or name.endswith(
                "_values"
            ):
                return '{"matrix": true}'
            if name == "missing_entries":
                return '[{"id": "TE-FORGED", "hours": 99}]'
            if name in ("res_model", "source_model"):
                return "res.users"
            if name == "code":
                return f"mx-written-{role}"
            if name == "field_name":
                return "groups_id"
            return f"matrix {name}"
        if ftype == "html":
            return "<p>matrix</p>"
        if ftype == "boolean":
            return not current
        if ftype == "integer":
            return (current or 0) + 7
        if ftype in ("float", "monetary"):
            return (current or 0.0) + 12.5
        if ftype == "date":
            return "2026-09-15" if str(current) != "2026-09-15" else "2026-09-16"
        if ftype == "datetime":
            return "2026-09-15 10:00:00"
        if ftype == "selection":
            options = [key for key, _label in field._description_selection(self.env)]
            others = [key for key in options if key != current]
            return others[0] if others else current
        if ftype == "binary":
            return base64.b64encode(b"matrix").decode()
        if ftype == "many2one":
            if field.comodel_name == "res.users":
                return self.users[role].id  # approving or editing "as myself"
            if field.comodel_name == "res.company":
                return current.id or self.company.id
            other = self.env[field.comodel_name].with_context(active_test=False)
            domain = [("id", "!=", current.id)] if current else []
            if "company_id" in other._fields and field.comodel_name not in ("res.company",):
                domain.append(("company_id", "in", [False, self.company.id]))
            found = other.search(domain, limit=1, order="id desc")
            return found.id or current.id or False
        if ftype == "many2one_reference":
            model_name = record[field.model_field] if field.model_field else None
            if model_name and model_name in self.env:
                found = self.env[model_name].search([("id", "!=", current or 0)], limit=1)
                return found.id or current or 1
            return current or 1
        if ftype == "many2many":
            found = self.env[field.comodel_name].search([], limit=1, order="id desc")
            return [Command.set(found.ids)]
        if ftype == "one2many":
            values = self.create_values(field.comodel_name, role)
            if values is None:
                return [Command.clear()]
            values = {k: v for k, v in values.items() if k != field.inverse_name}
            return [Command.create(values)]
        return None

    # Discovery --------------------------------------------------------------------------

    @staticmethod
    def _is_suite_module(name):
        return bool(name) and name.startswith(SUITE_PREFIX)

    def suite_models(self):
        """(model name, standard?) of every concrete suite model, and every standard
        model the suite adds fields or methods to."""
        result = []
        for name in sorted(self.env.registry):
            model = self.env[name]
            if name.startswith("psa."):
                result.append((name, False))
            elif not model._abstract and (self.suite_fields(model) or self.suite_methods(model)):
                result.append((name, True))
        return result

    def suite_fields(self, model):
        return [
            field
            for field in model._fields.values()
            if any(self._is_suite_module(m) for m in (field._modules or ()))
        ]

    def writable_fields(self, model, standard):
        fields_ = self.suite_fields(model) if standard else model._fields.values()
        result = []
        for field in fields_:
            if field.name in MAGIC_FIELDS or field.name.startswith(MIXIN_PREFIXES):
                continue
            if not field.store or field.related or (field.compute and not field.inverse):
                continue
            if field.type in ("properties", "properties_definition"):
                continue
            result.append(field)
        return sorted(result, key=lambda f: f.name)

    def suite_methods(self, model):
        """{name: function} of public methods that only suite classes define."""
        classes = type(model).__mro__
        result = {}
        for cls in classes:
            module = getattr(cls, "_module", None) or ""
            if not self._is_suite_module(module):
                continue
            for name, attr in vars(cls).items():
                if name.startswith("_") or name in ORM_METHODS or not callable(attr):
                    continue
                foreign = any(
                    name in vars(other)
                    for other in classes
                    if other is not cls
                    and not self._is_suite_module(getattr(other, "_module", None) or "")
                )
                if not foreign:
                    result.setdefault(name, attr)
        return result

    def method_arguments(self, function):
        """Positional arguments for an argument-less call, or None if one is unknown."""
        args = []
        for index, param in enumerate(inspect.signature(function).parameters.values()):
            if index == 0 or param.default is not inspect.Parameter.empty:
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.name not in METHOD_ARGUMENTS:
                return None
            args.append(METHOD_ARGUMENTS[param.name])
        return args

    # JSON-RPC ---------------------------------------------------------------------------

    def rpc(self, role, model, method, args, kwargs=None):
        """(outcome, detail, response text) of one execute_kw call as ``role``."""
        user = self.users[role]
        self.calls += 1
        # new_test_user's password: the login, padded to 8 characters.
        response = self.execute_kw(
            user, model, method, args, kwargs, password=user.login.ljust(8, "x")
        )
        text = response.text
        answer = response.json()
        if "error" not in answer:
            return "allowed", "", text, answer.get("result")
        data = answer["error"].get("data") or {}
        name = data.get("name", "")
        message = (data.get("message") or answer["error"].get("message") or "").splitlines()
        detail = f"{name.rsplit('.', 1)[-1]}: {message[0] if message else ''}"[:160]
        if name in DENIED_ERRORS:
            return "denied", detail, text, None
        if name in REFUSED_ERRORS:
            return "refused", detail, text, None
        return "error", detail, text, None

    @contextmanager
    def rolled_back(self):
        """Whatever the request did is undone: the test server runs on this cursor."""
        cr = self.env.cr
        cr.execute("SAVEPOINT privilege_matrix")
        try:
            yield
        finally:
            cr.execute("ROLLBACK TO SAVEPOINT privilege_matrix")
            cr.execute("RELEASE SAVEPOINT privilege_matrix")

    # Attempts ---------------------------------------------------------------------------

    def attempt(self, role, model, operation, method, args, kwargs=None, check=None):
        with self.rolled_back():
            outcome, detail, text, result = self.rpc(role, model, method, args, kwargs)
            if check and outcome == "allowed":
                outcome = check(text, result)
                if outcome == "denied":
                    detail = "nothing returned"
        self.outcomes.append((model, operation, role, outcome, detail))
        return outcome

    def record_for(self, model, role):
        if self.env[model]._transient:
            return self.wizard_for(model, role)
        return self.records.get(model) or self._any_record(model)

    def _any_record(self, model):
        Model = self.env[model].with_context(active_test=False)
        domain = []
        if "company_id" in Model._fields and Model._fields["company_id"].store:
            domain = [("company_id", "in", [False, self.company.id])]
        return Model.search(domain, limit=1, order="id")

    def wizard_for(self, model, role):
        """A wizard row of the role's own (transient rows belong to their creator)."""
        key = (model, role)
        if key not in self.wizards:
            values = self.create_values(model, role)
            user = self.users[role]
            self.wizards[key] = (
                self.env[model].with_user(user).sudo().create(values)
                if values is not None
                else self.env[model]
            )
            self.env.flush_all()
        return self.wizards[key]

    def try_model(self, model, standard):
        Model = self.env[model]
        readable = [
            f.name
            for f in Model._fields.values()
            if f.groups and not f.related and not f.name.startswith(MIXIN_PREFIXES)
        ]
        if standard:
            readable = [f.name for f in self.suite_fields(Model) if f.groups]
        fields_ = [] if Model._abstract else self.writable_fields(Model, standard)
        methods = self.suite_methods(Model)
        for role in self.roles:
            record = Model if Model._abstract else self.record_for(model, role)
            if not Model._abstract and not record:
                self.untested.append(f"{model}: no record to try")
                break
            ids = record.ids
            if not Model._abstract:
                self.attempt(
                    role,
                    model,
                    "read",
                    "search_read",
                    [[("id", "in", ids)], ["id"]],
                    check=lambda text, result: "allowed" if result else "denied",
                )
                for name in readable:
                    self.attempt(
                        role,
                        model,
                        f"read:{name}",
                        "search_read",
                        [[("id", "in", ids)], [name]],
                        check=lambda text, result: "allowed" if result else "denied",
                    )
            if not standard and not Model._abstract:
                values = self.create_values(model, role)
                if values is None:
                    if role == self.roles[0]:
                        self.untested.append(f"{model}: create (no values declared)")
                else:
                    self.attempt(role, model, "create", "create", [values])
                self.attempt(role, model, "unlink", "unlink", [ids])
            values = {}
            for field in fields_:
                value = self.write_value(record, field, role)
                if value is None:
                    if role == self.roles[0]:
                        self.untested.append(f"{model}.{field.name}: no value for {field.type}")
                    continue
                values[field.name] = value
            self.try_writes(role, model, ids, values)
            for name, function in sorted(methods.items()):
                args = self.method_arguments(function)
                if args is None:
                    if role == self.roles[0]:
                        self.untested.append(f"{model}.{name}(): needs unknown arguments")
                    continue
                is_model_method = getattr(function, "_api", None) == "model"
                call_args = args if is_model_method or Model._abstract else [ids, *args]
                self.attempt(role, model, f"call:{name}", name, call_args)

    def try_writes(self, role, model, ids, values):
        """One write per field; batched when the role has no write access to the model.

        Without the model's write ACL every write is refused by the ACL check, whatever
        the fields: one write of all the fields tries the same code path (overrides
        included) in one request. Should it not be denied, each field is tried alone.
        """
        if not values:
            return
        Access = self.env["ir.model.access"].with_user(self.users[role])
        if len(values) > 1 and not Access.check(model, "write", raise_exception=False):
            with self.rolled_back():
                outcome, detail, _text, _result = self.rpc(role, model, "write", [ids, values])
            if outcome == "denied":
                for name in values:
                    self.outcomes.append(
                        (
                            model,
                            f"write:{name}",
                            role,
                            outcome,
                            f"all fields in one write: {detail}",
                        )
                    )
                return
        for name, value in values.items():
            self.attempt(role, model, f"write:{name}", "write", [ids, {name: value}])

    def try_hr_cost(self):
        """The HR system's cost figure through every channel a connector user reads."""

        def leaks(text, result):
            return "allowed" if COST_TEXT in text else "denied"

        channels = [
            ("psa.event", self.hr_event, ["payload", "result"]),
            (
                "psa.exception",
                self.hr_exception,
                ["payload", "payload_pretty", "incoming_values", "technical_detail"],
            ),
            ("psa.audit.log", self.hr_audit, ["values", "message"]),
            ("hr.employee", self.costly, ["hourly_cost"]),
            ("psa.employee.cost.history", self.records["psa.employee.cost.history"], []),
        ]
        for model, records, names in channels:
            for role in self.roles:
                self.attempt(
                    role,
                    model,
                    "read:hr_cost",
                    "search_read",
                    [[("id", "in", records.ids)], names],
                    check=leaks,
                )

    def try_group_escalation(self, roles):
        """A pending link on the caller's own groups, completed by a binding to Settings."""
        system = self.env.ref("base.group_system")
        results = {}
        for role in roles:
            user = self.users[role]
            with self.rolled_back():
                link = self.rpc(
                    role,
                    "psa.pending.link",
                    "create",
                    [
                        {
                            "backend_id": self.hr_backend.id,
                            "res_model": "res.users",
                            "res_id": user.id,
                            "field_name": "groups_id",
                            "external_type": "group",
                            "external_id": f"ADMINS-{role}",
                        }
                    ],
                )
                binding = self.rpc(
                    role,
                    "psa.binding",
                    "create",
                    [
                        {
                            "backend_id": self.hr_backend.id,
                            "external_type": "group",
                            "external_id": f"ADMINS-{role}",
                            "res_model": "res.groups",
                            "res_id": system.id,
                        }
                    ],
                )
                self.env.invalidate_all()
                self.env.registry.clear_all_caches()
                admin = user.with_user(user).has_group("base.group_system")
            self.env.invalidate_all()
            self.env.registry.clear_all_caches()
            outcome = "allowed" if admin else "denied"
            detail = f"pending link {link[0]}, binding {binding[0]}"
            self.outcomes.append(
                ("res.users", "scenario:grant_system_group", role, outcome, detail)
            )
            results[role] = (admin, link[:2], binding[:2])
        return results

    # Reporting --------------------------------------------------------------------------

    def compare(self):
        grants, lockouts, unmatched = [], [], []
        used_rows = set()
        for model, operation, role, outcome, detail in self.outcomes:
            found = row_for(self.rows, model, operation)
            if found is None:
                unmatched.append(f"{model} {operation}")
                continue
            index, cells = found
            used_rows.add(index)
            expected = cells[role]
            line = f"{model} | {operation} | {role}: {outcome}" + (f" ({detail})" if detail else "")
            if outcome == "allowed" and not expected:
                grants.append(line)
            elif outcome == "denied" and expected:
                lockouts.append(line)
            elif outcome == "error":
                self.errors.append(line)
        unused = [
            f"{model} | {op}"
            for index, (model, op, _cells) in enumerate(self.rows)
            if index not in used_rows and "*" not in model + op
        ]
        return grants, lockouts, sorted(set(unmatched)), unused

    def summary(self, grants, lockouts, unmatched, unused, seconds):
        models_ = {o[0] for o in self.outcomes}
        operations = {(o[0], o[1]) for o in self.outcomes}
        counts = Counter(o[3] for o in self.outcomes)
        lines = [
            "Privilege matrix (psa_connector_base/readme/SECURITY.md) over JSON-RPC:",
            f"  {len(models_)} models x {len(self.roles)} roles x {len(operations)} operations"
            f" = {len(self.outcomes)} attempts, {self.calls} JSON-RPC calls, {seconds:.1f} s",
            "  outcomes: "
            + ", ".join(f"{k} {counts[k]}" for k in ("allowed", "refused", "error", "denied")),
            f"  grants beyond the matrix: {len(grants)}; lock-outs: {len(lockouts)}",
        ]
        got = {(o[0], o[1], o[2]): o[3] for o in self.outcomes}
        lines.append("  the issue's cases (denied = closed):")
        for title, attempts in ISSUE_CASES:
            open_ = [
                f"{m} {op} as {r}: {got[(m, op, r)]}"
                for m, op, r in attempts
                if got.get((m, op, r)) == "allowed"
            ]
            untried = [a for a in attempts if a not in got]
            state = "OPEN" if open_ else ("not tried" if untried else "closed")
            lines.append(
                f"    [{state}] {title}"
                + (f" ({len(open_)}/{len(attempts)} open)" if open_ else "")
            )
        by_model = Counter(line.split(" | ")[0] for line in grants)
        if by_model:
            lines.append(
                "  grants by model: " + ", ".join(f"{m} {n}" for m, n in sorted(by_model.items()))
            )
        for title, items in (
            ("GRANTS BEYOND THE MATRIX (denied cell, server said yes)", grants),
            ("LOCK-OUTS (allowed cell, server said no)", lockouts),
            ("operations without a matrix row", unmatched),
            ("errors (neither a grant nor a denial; check the tried value)", self.errors),
            ("not tried", self.untested),
            ("matrix rows that matched nothing (info)", unused),
        ):
            if items:
                lines.append(f"{title}: {len(items)}")
                lines += [f"    {item}" for item in items]
        return "\n".join(lines)

    def table(self):
        rows = defaultdict(dict)
        for model, operation, role, outcome, _detail in self.outcomes:
            found = row_for(self.rows, model, operation)
            expected = found and found[1][role]
            mark = {"allowed": "Y", "refused": "r", "error": "E", "denied": "-"}[outcome]
            if found and (outcome, expected) in (("allowed", False), ("denied", True)):
                mark += "!"
            rows[(model, operation)][role] = mark
        width = max(len(f"{m} {o}") for m, o in rows) if rows else 10
        out = ["Y allowed, r refused by a business rule, E error, - denied, ! differs from matrix"]
        out.append(" " * width + " " + " ".join(f"{r:>6}" for r in self.roles))
        for (model, operation), cells in sorted(rows.items()):
            out.append(
                f"{model} {operation}".ljust(width)
                + " "
                + " ".join(f"{cells.get(r, ''):>6}" for r in self.roles)
            )
        return "\n".join(out)

    @contextmanager
    def quiet(self):
        levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)

    # Tests ------------------------------------------------------------------------------

    def setUp(self):
        super().setUp()
        self.outcomes = []
        self.untested = []
        self.errors = []
        self.wizards = {}
        self.calls = 0

    def test_matrix(self):
        start = time.monotonic()
        with self.quiet():
            only = os.environ.get("PSA_MATRIX_MODELS")
            for model, standard in self.suite_models():
                if not only or any(fnmatch.fnmatchcase(model, p) for p in only.split(",")):
                    self.try_model(model, standard)
            self.try_hr_cost()
            self.try_group_escalation(self.roles)
        grants, lockouts, unmatched, unused = self.compare()
        report = self.summary(grants, lockouts, unmatched, unused, time.monotonic() - start)
        table = self.table()
        print("\n" + report)
        if os.environ.get("PSA_MATRIX_TABLE"):
            print(table)
        if os.environ.get("PSA_MATRIX_REPORT"):
            Path(os.environ["PSA_MATRIX_REPORT"]).write_text(report + "\n\n" + table + "\n")
        problems = []
        if grants:
            problems.append(f"{len(grants)} grant(s) beyond the matrix")
        if lockouts:
            problems.append(f"{len(lockouts)} lock-out(s)")
        if unmatched:
            problems.append(f"{len(unmatched)} operation(s) without a matrix row")
        self.assertFalse(problems, "; ".join(problems) + "\n" + report)

    def test_connector_manager_cannot_make_themselves_administrator(self):
        """The issue's case: a pending link on res.users.groups_id completed by a binding
        to base.group_system must not make a Connector Manager a Settings administrator."""
        with self.quiet():
            results = self.try_group_escalation(["cm", "other", "cu"])
        for role, (admin, link, binding) in results.items():
            with self.subTest(role=role):
                self.assertFalse(
                    admin, f"{role} became administrator (link {link}, binding {binding})"
                )
                self.assertNotEqual(binding[0], "allowed", f"{role}: binding to Settings {binding}")
        self.assertFalse(self.users["cm"].has_group("base.group_system"))
