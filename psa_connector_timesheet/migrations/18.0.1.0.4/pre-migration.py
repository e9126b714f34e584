"""The time entry jobs' channel becomes a record of this addon (channel_psa_time_entry),
so queue_job's autovacuum deletes their done jobs. A database where an administrator
already made a ``root.psa.time_entry`` channel by hand would fail the upgrade on the
channel's unique name: that channel is adopted (given the XML id) instead, and keeps
its removal interval."""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """
        INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
        SELECT 'psa_connector_timesheet', 'channel_psa_time_entry', 'queue.job.channel',
               c.id, false
          FROM queue_job_channel c
         WHERE c.complete_name = 'root.psa.time_entry'
           AND NOT EXISTS (
                SELECT 1 FROM ir_model_data d
                 WHERE d.module = 'psa_connector_timesheet'
                   AND d.name = 'channel_psa_time_entry'
           )
        """
    )
