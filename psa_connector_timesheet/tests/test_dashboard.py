from .common import TimesheetCase, time_entry_data


class TestDashboardUnbilledHours(TimesheetCase):
    def test_dashboard_counts_approved_hours_until_they_are_invoiced(self):
        self.apply("time_entry.created", time_entry_data())
        self.apply("time_entry.created", time_entry_data(id="TE-2", hours=1.25))
        self.apply("time_entry.created", time_entry_data(id="TE-3", state="submitted"))
        self.backend.invalidate_recordset()
        self.assertTrue(self.backend.dash_has_unbilled_hours)
        self.assertEqual(self.backend.dash_unbilled_hours, 7.75, "6.5 h + 1.25 h approved")
        self.invoice_project_time()
        self.backend.invalidate_recordset()
        self.assertEqual(self.backend.dash_unbilled_hours, 0.0)
