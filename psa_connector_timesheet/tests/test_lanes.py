from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.psa_connector_base.tests.common import project_data, task_data

from .common import TimesheetCase, time_entry_data

LANES_PARAM = "psa_connector_base.lanes.time_entry"


@tagged("post_install", "-at_install")
class TestTimeEntryLanes(TimesheetCase):
    """With lanes on, a time entry job runs in the lane of its project (the project's Odoo
    id modulo the number of lanes), so chunks of two projects apply side by side while
    one project's keep their order; off, everything stays in root.psa.time_entry."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for number in (2, 3):
            cls.apply("project.created", project_data(id=f"P-{number}", code=f"NW-{number}"))
            cls.apply("task.created", task_data(id=f"T-{number}", project_id=f"P-{number}"))
        projects = [cls.project, cls.bound("project", "P-2"), cls.bound("project", "P-3")]
        # Two projects of different parity: different lanes out of two.
        cls.odd = next(p for p in projects if p.id % 2)
        cls.even = next(p for p in projects if not p.id % 2)
        cls.external = {
            project: cls.env["psa.binding"]
            .search([("external_type", "=", "project"), ("res_id", "=", project.id)])
            .external_id
            for project in (cls.odd, cls.even)
        }

    def entries(self, project, count, first):
        external = self.external[project]
        task = {"P-1": "T-1", "P-2": "T-2", "P-3": "T-3"}[external]
        return self.env["psa.event"].union(
            *(
                self.receive(
                    "time_entry.created",
                    time_entry_data(id=f"TE-L{first + n}", project_id=external, task_id=task),
                )
                for n in range(count)
            )
        )

    def jobs_of(self, events):
        """{channel: [events of each job, in the order queued]}."""
        jobs = self.env["queue.job"].search([("uuid", "in", events.mapped("job_uuid"))], order="id")
        by_channel = {}
        for job in jobs:
            by_channel.setdefault(job.channel, []).append(
                events.filtered(lambda e, j=job: e.job_uuid == j.uuid)
            )
        return by_channel

    def test_without_lanes_every_chunk_is_in_the_one_channel(self):
        odd = self.entries(self.odd, 3, 0)
        even = self.entries(self.even, 2, 10)
        (odd | even)._enqueue_batch(chunk_size=4)
        self.assertEqual(
            self.jobs_of(odd | even),
            {"root.psa.time_entry": [(odd | even)[:4], (odd | even)[4:]]},
        )

    def test_with_two_lanes_each_projects_chunks_are_in_its_lane(self):
        self.env["ir.config_parameter"].set_param(LANES_PARAM, "2")
        odd = self.entries(self.odd, 3, 0)
        even = self.entries(self.even, 2, 10)
        unbound = self.receive(
            "time_entry.created", time_entry_data(id="TE-L99", project_id="P-404", task_id=None)
        )
        (odd | even | unbound)._enqueue_batch(chunk_size=2)
        # Odd project: lane 1, chunks of 2 in id order; even project and the entry of a
        # project Odoo does not have yet: lane 0.
        self.assertEqual(
            self.jobs_of(odd | even | unbound),
            {
                "root.psa.time_entry.lane0": [even, unbound],
                "root.psa.time_entry.lane1": [odd[:2], odd[2:]],
            },
        )
        # Queued lane after lane in turn, so that each lane's first chunk runs early.
        self.assertEqual(
            self.env["queue.job"]
            .search([("uuid", "in", (odd | even | unbound).mapped("job_uuid"))], order="id")
            .mapped("channel"),
            ["root.psa.time_entry.lane0", "root.psa.time_entry.lane1"] * 2,
        )
        # The drains and a lone event's job: in a lane too, never beside the lanes.
        lone = self.entries(self.odd, 1, 20)
        lone._enqueue()
        self.assertEqual(list(self.jobs_of(lone)), ["root.psa.time_entry.lane1"])
        self.assertEqual(
            self.env["psa.importer"]._channel_for("time_entry"), "root.psa.time_entry.lane0"
        )

    def test_the_busiest_lanes_chunks_are_queued_first(self):
        self.env["ir.config_parameter"].set_param(LANES_PARAM, "2")
        even = self.entries(self.even, 1, 10)
        odd = self.entries(self.odd, 5, 0)
        (even | odd)._enqueue_batch(chunk_size=2)
        # Lane 1 holds 5 changes (three chunks, one after the other), lane 0 one: lane 1's
        # first chunk goes first, then lane 0's, then the rest of lane 1.
        jobs = self.env["queue.job"].search(
            [("uuid", "in", (even | odd).mapped("job_uuid"))], order="id"
        )
        self.assertEqual(
            jobs.mapped("channel"),
            ["root.psa.time_entry.lane1", "root.psa.time_entry.lane0"]
            + ["root.psa.time_entry.lane1"] * 2,
        )
        self.assertEqual(jobs[0].uuid, odd[0].job_uuid)
        self.assertEqual(jobs[1].uuid, even.job_uuid)

    def test_a_pull_finds_each_events_lane_once(self):
        # A pull cuts its held events into lanes again with every page: their lanes are
        # kept (lane_of), not read from their payloads again each time.
        self.env["ir.config_parameter"].set_param(LANES_PARAM, "2")
        importer_class = type(self.env["psa.importer.time_entry"])
        lanes_of = importer_class._lanes_of
        asked = []

        def counting_lanes_of(importer, backend, events):
            asked.extend(events.ids)
            return lanes_of(importer, backend, events)

        lane_of = {}
        with patch.object(importer_class, "_lanes_of", counting_lanes_of):
            first_page = self.entries(self.odd, 3, 0) | self.entries(self.even, 1, 10)
            held = first_page._enqueue_batch(chunk_size=2, hold_partial=True, lane_of=lane_of)
            second_page = self.entries(self.odd, 1, 20) | self.entries(self.even, 1, 30)
            (held | second_page)._enqueue_batch(chunk_size=2, lane_of=lane_of)
        everything = first_page | second_page
        self.assertEqual(held, first_page[2:])  # odd's third entry and even's one
        self.assertEqual(sorted(asked), sorted(everything.ids))
        self.assertEqual(
            {event.id: lane for event, lane in zip(everything, [1] * 3 + [0, 1, 0], strict=False)},
            {event_id: lane_of[event_id] for event_id in everything.ids},
        )
        self.assertFalse(everything.filtered(lambda event: not event.job_uuid))

    def test_a_pull_holds_back_each_lanes_partial_chunk(self):
        self.env["ir.config_parameter"].set_param(LANES_PARAM, "2")
        odd = self.entries(self.odd, 3, 0)
        even = self.entries(self.even, 1, 10)
        held = (odd | even)._enqueue_batch(chunk_size=2, hold_partial=True)
        self.assertEqual(held, odd[2:] | even)
        self.assertFalse(held.filtered("job_uuid"))
        self.assertEqual(self.jobs_of(odd), {"root.psa.time_entry.lane1": [odd[:2]]})

    def test_lanes_apply_every_entry_once(self):
        self.env["ir.config_parameter"].set_param(LANES_PARAM, "2")
        odd = self.entries(self.odd, 6, 0)
        even = self.entries(self.even, 6, 10)
        # As a pull queues them (the webhooks' drain then finds nothing left to claim).
        (odd | even)._enqueue_batch(chunk_size=4)
        self.run_jobs()
        self.assertEqual(set((odd | even).mapped("state")), {"done"})
        lines = self.env["account.analytic.line"].search(
            [("project_id", "in", (self.odd | self.even).ids)]
        )
        # 12 entries of 6.5 h each (time_entry_data): one line each.
        self.assertEqual(len(lines), 12)
        self.assertAlmostEqual(sum(lines.mapped("unit_amount")), 12 * 6.5)
        channels = set(
            self.env["queue.job"]
            .search(
                [
                    ("method_name", "=", "_process_job"),
                    ("uuid", "in", (odd | even).mapped("job_uuid")),
                ]
            )
            .mapped("channel")
        )
        self.assertEqual(channels, {"root.psa.time_entry.lane0", "root.psa.time_entry.lane1"})

    def test_a_lane_count_out_of_bounds_is_clamped(self):
        importer = self.env["psa.importer.time_entry"]
        for value, expected in (("0", 1), ("-3", 1), ("abc", 1), ("3", 3), ("99", 8)):
            self.env["ir.config_parameter"].set_param(LANES_PARAM, value)
            self.assertEqual(importer._lane_count(), expected, value)
        # Every lane there can be has its channel record (queue_job deletes done jobs per
        # channel record).
        names = set(
            self.env["queue.job.channel"]
            .search([("complete_name", "like", "root.psa.time_entry.lane%")])
            .mapped("complete_name")
        )
        self.assertEqual(names, {f"root.psa.time_entry.lane{n}" for n in range(8)})

    def test_a_drained_burst_is_applied_in_its_lanes_and_a_trickle_in_the_drain(self):
        self.env["ir.config_parameter"].set_param(LANES_PARAM, "2")
        # Drained at once, not held back while it arrives (psa.event._burst_goes_on).
        self.env["ir.config_parameter"].set_param("psa_connector_base.webhook_burst_rate", "0")
        Event = self.env["psa.event"]
        # A trickle (at most WEBHOOK_CHUNK_SIZE = 100 events): the drain applies it all.
        trickle = self.entries(self.odd, 2, 0) | self.entries(self.even, 1, 10)
        self.assertEqual(Event._drain_webhooks(self.backend.id, "time_entry"), "3 event(s) applied")
        self.assertEqual(set(trickle.mapped("state")), {"done"})
        # A burst of 120 in two lanes: queued in its lanes' chunk jobs, which apply side by
        # side as soon as the drain commits, not one lane after the other in the drain;
        # one chunk per lane (up to 2,000 events), not a burst's quarters: each chunk
        # pays the recomputation of its tasks' hours.
        self.assertEqual(Event._drain_chunk_size(2000, several_lanes=True), 2000)
        self.assertEqual(Event._drain_chunk_size(2000), 500)
        odd = self.entries(self.odd, 60, 100)
        even = self.entries(self.even, 60, 200)
        self.assertEqual(
            Event._drain_webhooks(self.backend.id, "time_entry"), "120 event(s) queued"
        )
        self.assertEqual(set((odd | even).mapped("state")), {"pending"})
        self.assertEqual(
            self.jobs_of(odd | even),
            {"root.psa.time_entry.lane0": [even], "root.psa.time_entry.lane1": [odd]},
        )
        self.run_jobs(methods=("_process_job",))
        self.assertEqual(set((odd | even).mapped("state")), {"done"})
        self.assertEqual(
            self.env["account.analytic.line"].search_count(
                [("project_id", "in", (self.odd | self.even).ids)]
            ),
            2 + 1 + 60 + 60,
        )
