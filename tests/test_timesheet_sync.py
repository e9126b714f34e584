"""Approved time from the demo PSA into timesheets: pull, reconciliation, month-end volume."""

import json
import threading
import time
from unittest.mock import patch

from odoo import api, sql_db

from .common import SuiteTransactionCase


class TestTimesheetSync(SuiteTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.simulator = cls.start_simulator()
        cls.backend = cls._create_backend(
            code="sim-time", base_url=cls.simulator.url, page_size=500
        )
        for employee in cls.simulator.records("employee"):
            cls.env["hr.employee"].create(
                {"name": employee["name"], "work_email": employee["work_email"]}
            )

    def setUp(self):
        super().setUp()
        self.simulator.reset()

    def pull(self):
        self.backend.action_pull_now()
        self.run_jobs()

    def approved(self):
        return [e for e in self.simulator.records("time_entry") if e["state"] == "approved"]

    def odoo_lines(self):
        bindings = self.env["psa.binding"].search(
            [("backend_id", "=", self.backend.id), ("external_type", "=", "time_entry")]
        )
        return self.env["account.analytic.line"].browse(bindings.mapped("res_id")).exists()

    def reconcile(self):
        report = self.env["psa.timesheet.reconciliation"].create(
            {"backend_id": self.backend.id, "date_from": "2026-11-01", "date_to": "2026-12-31"}
        )
        report.action_run()
        self.assertEqual(report.state, "done", report.error_message)
        return report

    def test_pull_brings_exactly_the_approved_time(self):
        self.pull()
        approved = self.approved()
        lines = self.odoo_lines()
        self.assertEqual(len(lines), len(approved))
        self.assertAlmostEqual(sum(lines.mapped("unit_amount")), sum(e["hours"] for e in approved))
        report = self.reconcile()
        self.assertFalse(report.line_ids)
        self.assertEqual(report.psa_entry_count, len(approved))
        self.assertAlmostEqual(
            report.approved_unbilled_hours, sum(e["hours"] for e in approved if e["billable"])
        )

    def test_reconciliation_reports_seeded_differences_and_reimport_fixes_them(self):
        self.pull()
        # A PSA entry whose webhook was lost and that no pull has seen yet.
        template = self.approved()[0]
        lost = self.simulator.create(
            "time_entry",
            {
                **{
                    k: template[k]
                    for k in ("project_id", "task_id", "employee_id", "employee_email", "billable")
                },
                "id": "TE-LOST",
                "date": "2026-11-20",
                "hours": 3.5,
                "state": "approved",
                "description": "Lost in transit",
            },
        )
        # A line changed in Odoo behind the connector's back.
        edited = self.bound("time_entry", self.approved()[1]["id"])
        edited.unit_amount += 1.0

        report = self.reconcile()
        kinds = {(line.project_external_id, str(line.date)): line for line in report.line_ids}
        missing = kinds[(lost["project_id"], "2026-11-20")]
        self.assertEqual(missing.missing_count, 1)
        self.assertAlmostEqual(missing.difference, 3.5, places=4)
        self.assertIn(missing.kind, ("missing_in_odoo", "entries_differ"))
        differing = kinds[(self.approved()[1]["project_id"], self.approved()[1]["date"])]
        self.assertEqual(differing.kind, "hours_differ")
        self.assertAlmostEqual(differing.difference, -1.0)
        self.assertEqual(report.missing_entry_count, 1)

        report.action_reimport_missing()
        self.run_jobs()
        self.assertEqual(self.bound("time_entry", "TE-LOST").unit_amount, 3.5)
        again = self.reconcile()
        self.assertEqual(again.missing_entry_count, 0)
        self.assertEqual(again.line_ids.mapped("kind"), ["hours_differ"])

    def test_missing_entries_are_kept_as_the_psa_lists_them(self):
        self.pull()
        template = self.approved()[0]
        shared = {
            k: template[k]
            for k in ("project_id", "task_id", "employee_id", "employee_email", "billable")
        }
        for number, hours in ((1, 2.0), (2, 1.25)):
            self.simulator.create(
                "time_entry",
                {
                    **shared,
                    "id": f"TE-GONE-{number}",
                    "date": "2026-11-24",
                    "hours": hours,
                    "state": "approved",
                    "description": f"Never pulled {number}",
                },
            )
        listed = [
            entry
            for page in self.backend._get_adapter().iter_time_entries(
                "2026-11-01", "2026-12-31", self.backend._approved_time_states()
            )
            for entry in page
            if entry["id"].startswith("TE-GONE-")
        ]
        report = self.reconcile()
        (line,) = report.line_ids.filtered(lambda diff: diff.missing_count)
        self.assertEqual(
            (line.project_external_id, str(line.date)), (template["project_id"], "2026-11-24")
        )
        self.assertEqual(line.missing_count, 2)
        self.assertEqual(report.missing_entry_count, 2)
        # The text json.dumps writes for the entries, in the order the PSA lists them: what
        # the re-import reads the ids from.
        self.assertEqual(line.missing_entries, json.dumps(listed))
        self.assertEqual(report._missing_external_ids(), {"TE-GONE-1", "TE-GONE-2"})

    def test_reconciliation_reports_lines_the_psa_no_longer_approves(self):
        self.pull()
        entry = self.approved()[2]
        line = self.bound("time_entry", entry["id"])
        # Un-approved in the PSA, and the news never reached Odoo (no webhook here).
        self.simulator.update("time_entry", entry["id"], {"state": "submitted"})
        report = self.reconcile()
        flagged = report.line_ids.filtered(lambda diff: line in diff.extra_line_ids)
        self.assertEqual(len(flagged), 1)
        self.assertEqual(flagged.project_external_id, entry["project_id"])
        self.assertAlmostEqual(flagged.difference, -entry["hours"])
        self.assertEqual(report.extra_line_count, 1)
        # The planner setting turned off for the lines left over holds for that statement
        # only, not for the rest of the transaction.
        self.env.cr.execute("SHOW enable_nestloop")
        self.assertEqual(self.env.cr.fetchone()[0], "on")

    def test_the_odoo_side_is_read_aside_in_the_transactions_snapshot(self):
        # The test's own transaction has written (it exports no snapshot: read at the end);
        # a run in a transaction that has not reads it on a connection of its own.
        report = self.env["psa.timesheet.reconciliation"].create(
            {"backend_id": self.backend.id, "date_from": "2026-11-01", "date_to": "2026-12-31"}
        )
        self.assertIsNone(report._read_odoo_side_aside())
        # What the other connection sees, told by a committed probe table: a row committed
        # after the snapshot was exported must not be seen there (the test database holds
        # no committed lines to compare, and the test's own are not committed).
        database = sql_db.db_connect(self.env.cr.dbname)
        with database.cursor() as setup:
            setup.execute("CREATE TABLE psa_test_snapshot_probe (id int)")
            setup.execute("INSERT INTO psa_test_snapshot_probe VALUES (1)")
            setup.commit()
        released = threading.Event()

        def read_probe(report, cr, params=None):
            released.wait(30)
            cr.execute("SELECT count(*) FROM psa_test_snapshot_probe")
            return cr.fetchone()[0]

        try:
            with database.cursor() as cr:
                env = api.Environment(cr, self.env.uid, {})
                Reconciliation = type(env["psa.timesheet.reconciliation"])
                aside = env["psa.timesheet.reconciliation"].new(
                    {
                        "backend_id": self.backend.id,
                        "date_from": "2026-11-01",
                        "date_to": "2026-12-31",
                    }
                )
                with patch.object(Reconciliation, "_read_odoo_side", read_probe):
                    odoo_side = aside._read_odoo_side_aside()
                    self.assertTrue(callable(odoo_side))
                    with database.cursor() as other:
                        other.execute("INSERT INTO psa_test_snapshot_probe VALUES (2)")
                        other.commit()
                    released.set()
                    self.assertEqual(odoo_side(), 1, "read in the run's snapshot")
                    with database.cursor() as other:
                        other.execute("SELECT count(*) FROM psa_test_snapshot_probe")
                        self.assertEqual(other.fetchone()[0], 2)
                # A failure there is raised here, where the run waits for it.
                with patch.object(
                    Reconciliation, "_read_odoo_side", side_effect=RuntimeError("side failed")
                ):
                    failing = aside._read_odoo_side_aside()
                    with self.assertRaisesRegex(RuntimeError, "side failed"):
                        failing()
                # Once the transaction wrote, a snapshot would not carry it: read at the end.
                cr.execute("CREATE TEMPORARY TABLE psa_test_written (id int)")
                self.assertIsNone(aside._read_odoo_side_aside())
                cr.rollback()
        finally:
            released.set()
            with database.cursor() as cleanup:
                cleanup.execute("DROP TABLE IF EXISTS psa_test_snapshot_probe")
                cleanup.commit()

    def test_an_entry_listed_twice_does_not_hide_a_line_the_psa_no_longer_approves(self):
        # The lines left over are looked for only when fewer bindings were seen than there
        # are lines in the period: an entry seen twice must count once.
        self.pull()
        approved = self.approved()
        entry, listed_twice = approved[2], approved[3]
        line = self.bound("time_entry", entry["id"])
        self.simulator.update("time_entry", entry["id"], {"state": "submitted"})
        adapter_class = type(self.backend._get_adapter())
        listing = adapter_class.iter_time_entries

        def iter_time_entries(adapter, *args, **kwargs):
            yield from listing(adapter, *args, **kwargs)
            # Paging that shifted under the listing: a last page repeats an entry.
            yield [listed_twice]

        with patch.object(adapter_class, "iter_time_entries", iter_time_entries):
            report = self.reconcile()
        self.assertEqual(report.psa_entry_count, len(approved))
        self.assertEqual(report.missing_entry_count, 0)
        flagged = report.line_ids.filtered(lambda diff: line in diff.extra_line_ids)
        self.assertEqual(len(flagged), 1)
        self.assertEqual(report.extra_line_count, 1)

    def test_a_month_end_batch_of_10000_entries_lands_completely(self):
        self.pull()
        self.simulator.add_time_entries(10_000, start_date="2026-11-02", days=20)
        approved = self.approved()
        started = time.monotonic()
        self.pull()
        elapsed = time.monotonic() - started
        lines = self.odoo_lines()
        self.assertEqual(len(lines), len(approved))
        self.assertAlmostEqual(
            sum(lines.mapped("unit_amount")), sum(e["hours"] for e in approved), places=2
        )
        self.assertFalse(self.env["psa.exception"].search([("backend_id", "=", self.backend.id)]))
        print(
            f"\n10,000-entry pull: {len(lines)} lines in {elapsed:.1f}s "
            f"({len(lines) / elapsed:.0f} entries/s, in-test, one transaction)"
        )
