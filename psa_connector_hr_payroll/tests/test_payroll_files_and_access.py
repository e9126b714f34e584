"""Payroll files and payroll rows: what a spreadsheet runs and who reads them.

Moved from psa_connector_hr's test_sensitive_data.py with the payroll code.
"""

import base64
import csv
import io
import re
import zipfile
from xml.etree import ElementTree

from odoo.exceptions import AccessError
from odoo.tests import new_test_user

from odoo.addons.psa_connector_hr.tests.common import HrSyncCase

from .payroll_common import PayrollCase


class TestPayrollFilesAndAccess(PayrollCase):
    """Payroll files never hold a formula; payroll data is for HR and payroll approvers."""

    NAME = '=HYPERLINK("http://x")'

    def _sent_batches(self, export_format):
        """A regular batch paying 8 h and a 12.50 expense, then an adjustment batch
        taking the expense back (-12.5), both as files of ``export_format``."""
        self.september.export_format = export_format
        self.anna.write({"name": self.NAME, "psa_payroll_id": "+1"})
        self.entry("TE-1", "2026-09-07", 8.0)
        expense = self.approve_expense(self.expense(12.5, "2026-09-15"))
        regular = self.send(self.september)
        expense.sheet_id._do_refuse("Booked twice")
        adjustment = self.september.with_user(self.hr_user).action_compute_adjustment()
        self.assertEqual(self.lines_of(adjustment), {(self.NAME, "expense"): (0.0, -12.5)})
        adjustment.with_user(self.hr_user).action_approve()
        self.assertEqual(adjustment.state, "sent")
        return regular, adjustment

    def _file(self, batch):
        return base64.b64decode(batch.attachment_id.datas)

    def test_csv_cells_are_text_or_numbers_never_formulas(self):
        regular, adjustment = self._sent_batches("csv")
        rows = list(csv.reader(io.StringIO(self._file(regular).decode())))
        self.assertEqual(rows[0][:2], ["payroll_id", "employee"])
        by_category = {row[2]: row for row in rows[1:]}
        currency = regular.currency_id.name
        self.assertEqual(
            by_category["normal"], ["'+1", "'" + self.NAME, "normal", "8.0", "0.0", currency, "0.0"]
        )
        self.assertEqual(by_category["expense"][4], "12.5")
        rows = list(csv.reader(io.StringIO(self._file(adjustment).decode())))
        self.assertEqual(
            rows[1], ["'+1", "'" + self.NAME, "expense", "0.0", "-12.5", currency, "0.0"]
        )
        # A negative number is a number: no quote in the file itself either.
        self.assertIn(b",-12.5,", self._file(adjustment))

    def test_xlsx_cells_are_strings_or_numbers_never_formulas(self):
        regular, adjustment = self._sent_batches("xlsx")
        for batch, amount in ((regular, 12.5), (adjustment, -12.5)):
            with self.subTest(batch=batch.kind):
                cells = xlsx_cells(self._file(batch))
                self.assertFalse([c for c in cells.values() if c["formula"]])
                header = {cells[(1, col)]["value"]: col for col in range(1, 8)}
                rows = {
                    cells[(row, header["category"])]["value"]: row
                    for row in range(2, 1 + max(r for r, _c in cells))
                }
                row = rows["expense"]
                name = cells[(row, header["employee"])]
                payroll_id = cells[(row, header["payroll_id"])]
                value = cells[(row, header["amount"])]
                self.assertEqual((name["type"], name["value"]), ("s", self.NAME))
                self.assertEqual((payroll_id["type"], payroll_id["value"]), ("s", "+1"))
                self.assertEqual((value["type"], float(value["value"])), ("n", amount))

    def test_connector_users_cannot_read_payroll_or_its_file(self):
        regular, _adjustment = self._sent_batches("csv")
        connector_user = new_test_user(
            self.env, "payroll-connector", groups="psa_connector_base.group_connector_user"
        )
        manager = new_test_user(
            self.env, "payroll-manager", groups="psa_connector_base.group_connector_manager"
        )
        for user in (connector_user, manager):
            with self.subTest(user=user.login):
                for model in (
                    "psa.payroll.period",
                    "psa.payroll.batch",
                    "psa.payroll.batch.line",
                    "psa.payroll.entry",
                    "psa.payroll.check",
                ):
                    with self.assertRaises(AccessError):
                        self.env[model].with_user(user).search_read([], ["display_name"])
                with self.assertRaises(AccessError):
                    regular.attachment_id.with_user(user).read(["datas"])
        # HR officers (and accounting managers, who approve payroll) read it.
        self.assertTrue(regular.attachment_id.with_user(self.hr_user).read(["datas"]))
        lines = (
            self.env["psa.payroll.batch.line"]
            .with_user(self.hr_user)
            .search_read([("batch_id", "=", regular.id)], ["payroll_id", "amount"])
        )
        self.assertEqual(sorted(line["amount"] for line in lines), [0.0, 12.5])


def xlsx_cells(content):
    """{(row, column): {"type", "value", "formula"}} of the first sheet, 1-based, read
    from the sheet XML itself (what a spreadsheet application reads)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(content)) as xlsx:
        sheet = ElementTree.fromstring(xlsx.read("xl/worksheets/sheet1.xml"))
        shared = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(xlsx.read("xl/sharedStrings.xml")).findall("m:si", ns)
        ]
    cells = {}
    for cell in sheet.iter(f"{{{ns['m']}}}c"):
        letters, digits = re.match(r"([A-Z]+)(\d+)", cell.get("r")).groups()
        column = 0
        for letter in letters:
            column = column * 26 + ord(letter) - 64
        kind = cell.get("t", "n")
        raw = cell.find("m:v", ns)
        value = raw.text if raw is not None else None
        if kind == "s":
            value = shared[int(value)]
        cells[(int(digits), column)] = {
            "type": kind,
            "value": value,
            "formula": cell.find("m:f", ns) is not None,
        }
    return cells


class TestPayrollBackendRows(HrSyncCase):
    def test_payroll_rows_are_for_hr_officers_and_payroll_approvers(self):
        payroll = self._create_backend(code="payroll-rows", kind="payroll", name="Payroll")
        exception = self.env["psa.exception"].create(
            {
                "name": "Payroll batch PAY/2026-09/1 could not be sent",
                "category": "remote_error",
                "backend_id": payroll.id,
                "object_type": "payroll_batch",
                "external_id": "PAY/2026-09/1",
                "technical_detail": '{"lines": [{"employee_id": "PR-100", "amount": 150.5}]}',
            }
        )
        connector = "psa_connector_base.group_connector_user"
        expected = {
            "psa_connector_base.group_connector_manager": False,
            f"account.group_account_invoice,{connector}": False,
            f"account.group_account_manager,{connector}": True,
            f"hr.group_hr_user,{connector}": True,
        }
        for index, (groups, visible) in enumerate(expected.items()):
            with self.subTest(groups=groups):
                user = new_test_user(self.env, f"payroll-rows-{index}", groups=groups)
                found = (
                    self.env["psa.exception"]
                    .with_user(user)
                    .search([("backend_id", "=", payroll.id)])
                )
                self.assertEqual(found, exception if visible else found.browse())
