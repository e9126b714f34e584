import hashlib
import uuid

import psycopg2

from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tools import SQL, mute_logger

from ..models.psa_audit_log import canonical, chain_hash
from .common import PsaTransactionCase


class TestAuditChain(PsaTransactionCase):
    """The audit log is append-only in the ORM and the database, and hash-chained."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, "manager_chain", groups="psa_connector_base.group_connector_manager"
        )
        cls.finance = new_test_user(
            cls.env, "finance_chain", groups="psa_connector_base.group_connector_user"
        )

    def log_rows(self, count=3):
        AuditLog = self.env["psa.audit.log"]
        return AuditLog.concat(
            *(
                AuditLog._log(self.backend, "in", "create", "customer", f"C-{n}", values={"n": n})
                for n in range(count)
            )
        )

    def verify(self):
        return self.env["psa.audit.log"].with_user(self.manager).action_verify_chain()

    def test_rows_are_sealed_into_a_chain_of_sha256_links(self):
        rows = self.log_rows()
        self.assertFalse(any(rows.mapped("hash")), "rows are inserted unsealed")
        self.env["psa.audit.log"]._seal_chain()
        rows = rows.sorted("id")
        seqs = rows.mapped("chain_seq")
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 3)), "sealed in id order")
        self.env.cr.execute("SELECT hash FROM psa_audit_log WHERE chain_seq = %s", [seqs[0] - 1])
        before = self.env.cr.fetchone()
        previous = before[0] if before else None
        for row in rows:
            self.env.cr.execute(
                "SELECT id, create_date, create_uid, backend_id, direction, object_type, "
                "external_id, res_model, res_id, operation, outcome, correlation_id, "
                'event_id, message, "values" FROM psa_audit_log WHERE id = %s',
                [row.id],
            )
            expected = hashlib.sha256(
                ((previous or "") + "\n" + canonical(self.env.cr.dictfetchone())).encode()
            ).hexdigest()
            self.assertEqual((row.prev_hash or None, row.hash), (previous, expected))
            previous = row.hash
        self.assertEqual(self.env["psa.audit.log"]._seal_chain(), 0, "nothing left to seal")
        result = self.verify()
        self.assertEqual(result["params"]["type"], "success", result["params"]["message"])

    def test_a_row_committed_late_is_sealed_after_newer_rows(self):
        """A long job takes a lower id but commits after rows the sealer already chained:
        it joins the chain at the end (the chain's order is chain_seq, not id)."""
        late, early = self.log_rows(2).sorted("id")
        cr = self.env.cr
        # Not visible yet to the first sealing run: stand-in for "not committed yet".
        cr.execute("UPDATE psa_audit_log SET hash = 'uncommitted' WHERE id = %s", [late.id])
        self.env["psa.audit.log"]._seal_chain()
        cr.execute("UPDATE psa_audit_log SET hash = NULL WHERE id = %s", [late.id])
        self.assertEqual(self.env["psa.audit.log"]._seal_chain(), 1)
        self.assertEqual(late.chain_seq, early.chain_seq + 1)
        self.assertEqual(late.prev_hash, early.hash)
        self.assertIsNone(self.env["psa.audit.log"]._verify_chain())

    def test_verification_names_the_first_row_changed_behind_the_orms_back(self):
        rows = self.log_rows().sorted("id")
        tampered = rows[1]
        self.env["psa.audit.log"]._seal_chain()
        # The database owner (Odoo's own role here) passes the trigger: only the chain
        # can tell.
        self.env.cr.execute(
            "UPDATE psa_audit_log SET message = 'nothing happened' WHERE id = %s",
            [tampered.id],
        )
        result = self.verify()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn(f"audit row #{tampered.id}:", result["params"]["message"])
        self.assertIn("contents changed", result["params"]["message"])

    def test_verification_names_the_row_after_a_deleted_one(self):
        rows = self.log_rows().sorted("id")
        self.env["psa.audit.log"]._seal_chain()
        self.env.cr.execute("DELETE FROM psa_audit_log WHERE id = %s", [rows[1].id])
        result = self.verify()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn(f"audit row #{rows[2].id}:", result["params"]["message"])
        self.assertIn("missing", result["params"]["message"])

    def test_a_row_rehashed_after_tampering_breaks_the_next_rows_link(self):
        rows = self.log_rows().sorted("id")
        self.env["psa.audit.log"]._seal_chain()
        original_hash, prev_hash = rows[1].hash, rows[1].prev_hash
        cr = self.env.cr
        # Whoever changes a row and recomputes its hash breaks the next row's link.
        cr.execute("UPDATE psa_audit_log SET message = 'x' WHERE id = %s", [rows[1].id])
        cr.execute(
            "SELECT id, create_date, create_uid, backend_id, direction, object_type, "
            "external_id, res_model, res_id, operation, outcome, correlation_id, "
            'event_id, message, "values" FROM psa_audit_log WHERE id = %s',
            [rows[1].id],
        )
        cr.execute(
            "UPDATE psa_audit_log SET hash = %s WHERE id = %s",
            [chain_hash(prev_hash, cr.dictfetchone()), rows[1].id],
        )
        broken = self.env["psa.audit.log"]._verify_chain()
        self.assertEqual(broken[0], rows[2].id)
        self.assertIn("link to the previous row is broken", broken[1])
        # Put back as it was, the chain holds again.
        cr.execute(
            "UPDATE psa_audit_log SET message = NULL, hash = %s WHERE id = %s",
            [original_hash, rows[1].id],
        )
        self.assertIsNone(self.env["psa.audit.log"]._verify_chain())

    def test_only_a_connector_manager_verifies(self):
        with self.assertRaises(AccessError):
            self.env["psa.audit.log"].with_user(self.finance).action_verify_chain()

    def test_orm_refuses_changes_to_anyone_but_the_superuser(self):
        row = self.log_rows(1)
        for user in (self.manager, self.finance):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    row.with_user(user).write({"message": "rewritten"})
                with self.assertRaises(AccessError):
                    row.with_user(user).unlink()
        # Nobody chooses a row's seal, not even the code that logs it.
        forged = (
            self.env["psa.audit.log"]
            .sudo()
            .create(
                {
                    "backend_id": self.backend.id,
                    "direction": "in",
                    "operation": "create",
                    "hash": "0" * 64,
                    "chain_seq": 999999,
                }
            )
        )
        self.assertEqual((forged.hash, forged.chain_seq), (False, 0))

    @mute_logger("odoo.sql_db")
    def test_database_refuses_updates_and_deletes_from_other_roles(self):
        row = self.log_rows(1)
        self.env.flush_all()
        cr = self.env.cr
        cr.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        if not cr.fetchone()[0]:
            self.skipTest("the test database role cannot create a role")
        role = f"psa_audit_probe_{uuid.uuid4().hex[:10]}"
        # Created inside the test transaction: rolled back with it.
        cr.execute(SQL("CREATE ROLE %s NOLOGIN", SQL.identifier(role)))
        cr.execute(
            SQL(
                "GRANT SELECT, UPDATE, DELETE, TRUNCATE ON psa_audit_log TO %s",
                SQL.identifier(role),
            )
        )
        statements = [
            ("UPDATE psa_audit_log SET message = 'x' WHERE id = %s", [row.id]),
            ("DELETE FROM psa_audit_log WHERE id = %s", [row.id]),
            ("TRUNCATE psa_audit_log", None),
        ]
        for query, params in statements:
            with self.subTest(query=query):
                with (
                    self.assertRaisesRegex(psycopg2.Error, "append-only"),
                    cr.savepoint(flush=False),
                ):
                    cr.execute(SQL("SET LOCAL ROLE %s", SQL.identifier(role)))
                    cr.execute(query, params)
                cr.execute("SELECT current_user")
                self.assertNotEqual(cr.fetchone()[0], role, "the savepoint undid SET ROLE")
        cr.execute("SELECT count(*) FROM psa_audit_log WHERE id = %s", [row.id])
        self.assertEqual(cr.fetchone()[0], 1)
