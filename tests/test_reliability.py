"""Duplicates and disorder: a shuffled stream with re-deliveries and stale versions lands once.

The fast part of the reliability harness (``make harness`` runs the same stream generator
against a real Odoo with workers, thousands of events and process faults).
"""

import json

from odoo.addons.psa_connector_base.tests.common import project_data, task_data
from odoo.addons.psa_connector_timesheet.tests.common import TimesheetCase, time_entry_data

from harness.streams import time_entry_stream

from .common import SuiteTagsMixin


class TestDisorderedStream(SuiteTagsMixin, TimesheetCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for event_type, data in (
            ("project.created", project_data(id="P-2", code="NW-OPS", name="Operations")),
            ("task.created", task_data(id="T-2", project_id="P-2", name="Runbook")),
        ):
            assert cls.apply(event_type, data).state == "done"
        cls.ben = cls.env["hr.employee"].create(
            {"name": "Ben Okafor", "work_email": "ben.okafor@consultancy.example"}
        )

    def deliver(self, stream):
        """Receive every envelope as the webhook controller does; count the duplicates."""
        duplicates = 0
        for envelope in stream.envelopes:
            raw = json.dumps(envelope).encode()
            _event, is_new = self.env["psa.event"]._receive_webhook(self.backend, envelope, raw)
            duplicates += not is_new
        return duplicates

    def lines_by_entry(self):
        bindings = self.env["psa.binding"].search(
            [("backend_id", "=", self.backend.id), ("external_type", "=", "time_entry")]
        )
        lines = {}
        for binding in bindings:
            line = binding._record()
            if line:
                lines.setdefault(binding.external_id, []).append(line)
        return lines

    def test_shuffled_stream_with_redeliveries_and_stale_versions_lands_exactly_once(self):
        stream = time_entry_stream(
            90,
            seed=20261120,
            tag="fast",
            projects=[("P-1", ["T-1"]), ("P-2", ["T-2", None])],
            employees=[("E-1", None), (None, "ben.okafor@consultancy.example")],
        )
        # The generator really produced what this test is about.
        self.assertGreater(stream.redeliveries, 10)
        self.assertGreater(stream.resent, 5)
        self.assertGreater(stream.stale, 10)
        self.assertGreater(len(stream.expected) - stream.lines_expected, 3)
        # An un-approval or deletion that overtakes the approval it withdraws.
        self.assertGreater(stream.overtaken, 2)

        duplicates = self.deliver(stream)
        self.assertEqual(duplicates, stream.redeliveries)
        self.run_jobs(methods=("_process_job",))

        lines = self.lines_by_entry()
        for external_id, hours in stream.expected.items():
            found = lines.get(external_id, [])
            if hours is None:
                self.assertFalse(found, f"{external_id} is not approved in the end: no line")
                continue
            self.assertEqual(len(found), 1, external_id)
            self.assertEqual(found[0].unit_amount, hours, external_id)
        # Nothing else: no line without an entry, no entry twice.
        all_lines = self.env["account.analytic.line"].search(
            [("project_id", "in", (self.project | self.bound("project", "P-2")).ids)]
        )
        self.assertEqual(len(all_lines), stream.lines_expected)

        events = self.env["psa.event"].search([("backend_id", "=", self.backend.id)])
        stream_events = events.filtered(lambda e: e.event_uid.startswith("evt-fast-"))
        self.assertEqual(len(stream_events), len(stream.envelopes) - stream.redeliveries)
        self.assertFalse(
            stream_events.filtered(lambda e: e.state not in ("done", "skipped")),
            "every event is applied or skipped as stale/duplicate",
        )
        self.assertFalse(self.exceptions(state="open"))
        # Every change applied to a line is in the audit log, with its event.
        audited = self.env["psa.audit.log"].search(
            [("backend_id", "=", self.backend.id), ("object_type", "=", "time_entry")]
        )
        for external_id in lines:
            operations = audited.filtered(lambda a, x=external_id: a.external_id == x)
            self.assertIn("create", operations.mapped("operation"), external_id)
        changed = stream_events.filtered(
            lambda e: e.state == "done" and not e.result.startswith("updated 0 field")
        )
        self.assertFalse(changed - audited.event_id, "an applied event without an audit entry")

    def test_a_job_that_lost_the_race_for_a_binding_is_retried_not_failed(self):
        """Two workers apply versions of one new entry; the second one's snapshot predates
        the first one's commit, so it does not see the binding and inserts it again.
        That unique violation is a retry in a fresh transaction, not a failed event."""
        self.apply("time_entry.created", time_entry_data(id="TE-race", hours=2.0))
        Binding = type(self.env["psa.binding"])
        original = Binding._find
        # A stale snapshot hides the binding from every read of the first attempt: the
        # routing's (_target_company: is the entry bound, in which company?) and the
        # apply's own (_import_bound).
        stale_snapshot = {"left": 2}

        def find(binding_model, backend, external_type, external_id):
            if external_id == "TE-race" and stale_snapshot["left"]:
                stale_snapshot["left"] -= 1
                return binding_model.browse()
            return original(binding_model, backend, external_type, external_id)

        self.patch(Binding, "_find", find)
        event = self.receive(
            "time_entry.updated",
            time_entry_data(id="TE-race", hours=3.5, version=2, updated_at="2026-11-18T08:00:00Z"),
        )
        jobs = self.run_jobs(methods=("_process_job",))
        self.assertEqual(stale_snapshot["left"], 0, "the stale read happened")
        # The drain's own apply lost the race and left it to a chunk job, which applied it.
        self.assertEqual(len(jobs), 1, "applied twice: once lost the race, once applied")
        self.assertEqual(jobs[0].uuid, event.job_uuid)
        self.assertEqual(event.state, "done", event.result)
        self.assertEqual(self.line("TE-race").unit_amount, 3.5)
        self.assertFalse(self.exceptions())
