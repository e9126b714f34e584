from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestJobRetention(TransactionCase):
    """Done jobs go with queue_job's own autovacuum, which deletes per channel record: the
    time entry chunks' channel has one, so its done jobs are deleted too."""

    def job_in(self, channel, state, age_days):
        job = self.env["res.partner"].with_delay(channel=channel).exists()
        self.env.cr.execute(
            """UPDATE queue_job SET state = %s,
                      date_done = CASE WHEN %s = 'done' THEN (now() at time zone 'UTC')
                                  - make_interval(days => %s) END
                WHERE uuid = %s RETURNING id""",
            (state, state, age_days, job.uuid),
        )
        return self.env["queue.job"].browse(self.env.cr.fetchone()[0])

    def test_the_time_entry_channel_is_a_record_with_a_removal_interval(self):
        channel = self.env.ref("psa_connector_timesheet.channel_psa_time_entry")
        self.assertEqual(channel.complete_name, "root.psa.time_entry")
        self.assertEqual(
            channel.complete_name,
            self.env["psa.importer.time_entry"]._psa_channel,
        )
        self.assertEqual(channel.removal_interval, 30)

    def test_autovacuum_deletes_old_done_jobs_of_the_connector_channels(self):
        old_chunk = self.job_in("root.psa.time_entry", "done", 31)
        old_pull = self.job_in("root.psa", "done", 31)
        recent_chunk = self.job_in("root.psa.time_entry", "done", 29)
        failed_chunk = self.job_in("root.psa.time_entry", "failed", 31)
        pending_chunk = self.job_in("root.psa.time_entry", "pending", 31)
        self.env.invalidate_all()
        self.env["queue.job"].autovacuum()
        self.assertFalse(old_chunk.exists())
        self.assertFalse(old_pull.exists())
        self.assertEqual(
            (recent_chunk | failed_chunk | pending_chunk).exists(),
            recent_chunk | failed_chunk | pending_chunk,
        )

    def test_a_longer_removal_interval_keeps_them(self):
        channel = self.env.ref("psa_connector_timesheet.channel_psa_time_entry")
        channel.removal_interval = 90
        chunk = self.job_in("root.psa.time_entry", "done", 60)
        self.env.invalidate_all()
        self.env["queue.job"].autovacuum()
        self.assertTrue(chunk.exists())
