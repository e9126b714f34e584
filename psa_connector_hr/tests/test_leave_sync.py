from .common import HrSyncCase, department_data, employee_data, leave_data


class TestLeaveSync(HrSyncCase):
    def setUp(self):
        super().setUp()
        self.apply("department.created", department_data())
        self.apply("employee.created", employee_data())
        self.employee = self.bound("employee", "E-4001")

    def resource_leaves(self):
        return self.env["resource.calendar.leaves"].search(
            [("resource_id", "=", self.employee.resource_id.id)]
        )

    def test_approved_leave_becomes_time_off_and_refusal_cancels_it(self):
        event = self.apply("leave.created", leave_data())
        self.assertEqual(event.state, "done", event.result)
        leave = self.bound("leave", "L-1")
        self.assertEqual(leave._name, "hr.leave")
        self.assertEqual(leave.employee_id, self.employee)
        self.assertEqual(leave.state, "validate")
        self.assertEqual(leave.number_of_days, 3)
        self.assertEqual(leave.holiday_status_id.name, "PSA: vacation")
        self.assertEqual(leave.holiday_status_id.requires_allocation, "no")
        self.assertEqual(len(self.resource_leaves()), 1, "capacity sees the absence")
        write_backs = self.env["queue.job"].search([("method_name", "=", "_write_back_job")])
        self.assertEqual(write_backs.mapped(lambda job: job.args[0]), ["employee"])

        # Moved in the HR system: the same time off follows.
        self.apply("leave.updated", leave_data(date_to="2026-12-24", version=2))
        self.assertEqual((leave.state, leave.number_of_days), ("validate", 4))
        self.assertEqual(len(self.resource_leaves()), 1)

        self.apply("leave.updated", leave_data(state="refused", version=3))
        self.assertEqual(leave.state, "cancel")
        self.assertFalse(self.resource_leaves())
        # An approval older than the refusal arrives late: it stays refused.
        late = self.apply("leave.updated", leave_data(version=2, event_id="late"))
        self.assertEqual(late.state, "skipped")
        self.assertEqual(leave.state, "cancel")

    def test_requested_leave_is_not_time_off_until_approved(self):
        self.apply("leave.created", leave_data(state="requested"))
        self.assertFalse(self.bound("leave", "L-1"))
        self.assertFalse(self.env["hr.leave"].search([("employee_id", "=", self.employee.id)]))
        self.apply("leave.updated", leave_data(version=2))
        self.assertEqual(self.bound("leave", "L-1").state, "validate")
        self.apply(
            "leave.deleted", {"id": "L-1", "version": 3, "updated_at": "2026-11-12T09:00:00Z"}
        )
        self.assertEqual(self.bound("leave", "L-1").state, "cancel")
        self.assertFalse(self.resource_leaves())

    def test_leave_of_unknown_employee_waits(self):
        event = self.apply("leave.created", leave_data(id="L-2", employee_id="E-9999"))
        self.assertEqual(event.state, "waiting")
        self.assertFalse(self.bound("leave", "L-2"))
