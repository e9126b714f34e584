import uuid

from psycopg2.errors import InvalidTextRepresentation, SerializationFailure

from odoo import sql_db
from odoo.tests import TransactionCase, tagged

from ..tools.jobs import execute_racing


@tagged("post_install", "-at_install")
class TestRacingStatements(TransactionCase):
    """A statement that loses an expected race fails quietly (its caller runs again); any
    other failure is still an ERROR line. Real transactions on connections of their own:
    the registry's cursors are the test's under tests."""

    def setUp(self):
        super().setUp()
        self.table = f"psa_race_{uuid.uuid4().hex[:12]}"
        self.connection = sql_db.db_connect(self.env.cr.dbname)
        with self.connection.cursor() as cr:
            cr.execute(f"CREATE TABLE {self.table} (k integer PRIMARY KEY)")
        self.addCleanup(self._drop_table)

    def _drop_table(self):
        with self.connection.cursor() as cr:
            cr.execute(f"DROP TABLE IF EXISTS {self.table}")

    def test_a_key_committed_after_the_snapshot_fails_to_serialize_without_an_error_line(self):
        insert = f"INSERT INTO {self.table} (k) VALUES (%s) ON CONFLICT DO NOTHING RETURNING k"
        with self.connection.cursor() as late, self.connection.cursor() as early:
            late.execute(f"SELECT count(*) FROM {self.table}")  # its snapshot starts here
            early.execute(insert, [1])
            early.commit()
            with (
                self.assertNoLogs("odoo.sql_db", "ERROR"),
                self.assertNoLogs("odoo.addons.psa_connector_base.tools.jobs", "ERROR"),
                self.assertRaises(SerializationFailure),
            ):
                execute_racing(late, insert, [1])
            late.rollback()
            # Run again, as its caller does, it sees the key and inserts nothing.
            execute_racing(late, insert, [1])
            self.assertEqual(late.fetchall(), [])
            late.execute(f"SELECT count(*) FROM {self.table}")
            self.assertEqual(late.fetchone()[0], 1)

    def test_any_other_failure_is_still_logged(self):
        with self.connection.cursor() as cr:
            with (
                self.assertLogs("odoo.addons.psa_connector_base.tools.jobs", "ERROR") as logged,
                self.assertRaises(InvalidTextRepresentation),
            ):
                execute_racing(cr, f"INSERT INTO {self.table} (k) VALUES (%s)", ["not a number"])
            self.assertIn("invalid input syntax", logged.output[0])
            cr.rollback()
