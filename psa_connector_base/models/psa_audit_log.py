import hashlib
import json
from datetime import timedelta

from psycopg2.extras import execute_values

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..tools.access import MANAGER, requires_group

# Key of the transaction-level advisory lock that orders the sealing of the chain.
SEAL_LOCK_KEY = 0x50534141  # "PSAA"
# How long after a commit its audit rows are sealed (see _insert_seal_trigger).
SEAL_DELAY_SECONDS = 30
# Rows sealed or verified per round trip.
CHUNK = 5000
# The columns a row's hash covers, in this order. ``company_id`` (a related field the ORM
# recomputes) and ``write_*`` are derived, not facts, and the chain columns are the seal.
# ``event_id`` and ``create_uid`` are foreign keys the database sets to NULL when the event
# or user is deleted: an event goes only with its backend, which an audit row keeps
# (``ondelete='restrict'``), and Odoo archives users rather than deleting them; deleting
# one that signed audit rows shows as a break, which is what a verifier should see.
HASHED_COLUMNS = (
    "id",
    "create_date",
    "create_uid",
    "backend_id",
    "direction",
    "object_type",
    "external_id",
    "res_model",
    "res_id",
    "operation",
    "outcome",
    "correlation_id",
    "event_id",
    "message",
    "values",
)

OPERATIONS = [
    ("create", "Created"),
    ("update", "Updated"),
    ("archive", "Archived"),
    ("delete", "Deleted"),
    ("match", "Matched existing"),
    ("skip_stale", "Skipped: older than Odoo's"),
    ("skip_owned", "Not applied: Odoo owns the field"),
    ("write_back", "Odoo ids written back"),
    ("push", "Pushed"),
    ("ignore", "Exception ignored"),
    ("payload_edit", "Payload edited"),
    ("payload_approve", "Edited payload approved"),
    ("payload_reject", "Edited payload rejected"),
    ("rule_change", "Connector setting changed"),
    ("breaker", "Circuit breaker"),
]


def _hashed_columns():
    return SQL(", ").join(SQL.identifier(column) for column in HASHED_COLUMNS)


def canonical(row):
    """The row's hashed facts as one stable string (column order fixed, UTF-8, no spaces)."""
    return json.dumps(
        [[column, row[column]] for column in HASHED_COLUMNS],
        default=str,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chain_hash(previous, row):
    return hashlib.sha256(((previous or "") + "\n" + canonical(row)).encode()).hexdigest()


class PsaAuditLog(models.Model):
    """Append-only, tamper-evident record of every change that crossed the boundary.

    Append-only: the ORM refuses ``write``/``unlink`` to anyone but the superuser, and a
    trigger refuses UPDATE, DELETE and TRUNCATE in the database itself to every role but
    the database owner (and Odoo's own role), e.g. a reporting role granted write access.

    Tamper-evident: each row carries ``hash`` = sha256(previous row's hash + the row's
    canonical serialisation), so a change made even by the owner (raw SQL, a restored
    dump) breaks the chain at that row; ``action_verify_chain`` names it.

    Why the chain is sealed after commit rather than at insert: hashing at insert needs
    the previous row's hash, i.e. one lock held from the first audit row of a job to its
    commit; at month-end hundreds of jobs insert audit rows in parallel and would run one
    after the other. Instead rows are inserted without a hash (no lock, no contention),
    and ``_seal_chain`` gives the committed rows their place in the chain (``chain_seq``,
    in id order within a run) under a short transaction-level advisory lock: right after
    commit (a cron trigger the inserting transaction sets) and before every verification.
    Rows committed late (a long job that took a lower id) are simply sealed in the next
    run: the chain's order is ``chain_seq``, not ``id``. If two sealers ever worked from
    stale snapshots, both would update the same rows and PostgreSQL would make one fail
    (concurrent update under REPEATABLE READ): the chain cannot fork silently.
    """

    _name = "psa.audit.log"
    _description = "PSA Connector Audit Log"
    _order = "id desc"
    _log_access = True

    backend_id = fields.Many2one(
        "psa.backend",
        ondelete="restrict",
        index=True,
        help="The backend the change concerns; empty for a connector-wide setting.",
    )
    # Precomputed: known at insert (no UPDATE of every new row to set it; see psa.binding).
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, precompute=True
    )
    direction = fields.Selection(
        [("in", "Inbound"), ("out", "Outbound"), ("internal", "Decision in Odoo")],
        required=True,
    )
    object_type = fields.Char(index=True)
    external_id = fields.Char(string="External ID", index=True)
    res_model = fields.Char(string="Odoo model")
    res_id = fields.Many2oneReference(string="Odoo record", model_field="res_model")
    operation = fields.Selection(OPERATIONS, required=True)
    outcome = fields.Selection(
        [("success", "Success"), ("skipped", "Skipped"), ("failed", "Failed")],
        default="success",
        required=True,
    )
    correlation_id = fields.Char(index=True)
    event_id = fields.Many2one("psa.event", ondelete="set null", index=True)
    message = fields.Char()
    values = fields.Text(string="Values")
    chain_seq = fields.Integer(
        string="Chain position",
        readonly=True,
        copy=False,
        help="Position of the row in the hash chain; empty until the row is sealed "
        "(shortly after it was committed).",
    )
    prev_hash = fields.Char(string="Previous hash", readonly=True, copy=False)
    hash = fields.Char(
        readonly=True,
        copy=False,
        help="sha256 of the previous row's hash and this row's contents: changing or "
        "deleting a row afterwards breaks the chain from that row on.",
    )

    def init(self):
        cr = self.env.cr
        cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS psa_audit_log_chain_seq_uniq "
            "ON psa_audit_log (chain_seq)"
        )
        cr.execute(
            "CREATE INDEX IF NOT EXISTS psa_audit_log_unsealed_idx "
            "ON psa_audit_log (id) WHERE hash IS NULL"
        )
        # The database owner and the role Odoo runs as (the one installing this) may
        # update: Odoo itself seals the chain and recomputes related fields. Every other
        # role is refused, whatever GRANT it holds. The owner can still disable the
        # trigger: that is what the hash chain is for.
        cr.execute("SELECT current_user")
        odoo_role = cr.fetchone()[0]
        # The role name is a parameter, quoted by psycopg2 into the function's body.
        cr.execute(
            SQL(
                """
            CREATE OR REPLACE FUNCTION psa_audit_log_append_only() RETURNS trigger AS $$
            BEGIN
                IF current_user = %s OR EXISTS (
                    SELECT 1 FROM pg_database
                     WHERE datname = current_database()
                       AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                ) THEN
                    IF TG_OP = 'DELETE' THEN
                        RETURN OLD;
                    END IF;
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION USING
                    MESSAGE = 'psa_audit_log is append-only: ' || TG_OP
                              || ' refused for role ' || current_user,
                    ERRCODE = 'insufficient_privilege';
            END
            $$ LANGUAGE plpgsql
            """,
                odoo_role,
            )
        )
        cr.execute(
            """
            DROP TRIGGER IF EXISTS psa_audit_log_append_only ON psa_audit_log;
            CREATE TRIGGER psa_audit_log_append_only
                BEFORE UPDATE OR DELETE ON psa_audit_log
                FOR EACH ROW EXECUTE FUNCTION psa_audit_log_append_only();
            DROP TRIGGER IF EXISTS psa_audit_log_no_truncate ON psa_audit_log;
            CREATE TRIGGER psa_audit_log_no_truncate
                BEFORE TRUNCATE ON psa_audit_log
                FOR EACH STATEMENT EXECUTE FUNCTION psa_audit_log_append_only();
            """
        )

    @api.model
    def _log(
        self,
        backend,
        direction,
        operation,
        object_type=None,
        external_id=None,
        record=None,
        res_model=None,
        res_id=None,
        event=None,
        outcome="success",
        message=None,
        values=None,
    ):
        return self.sudo().create(
            {
                "backend_id": backend.id if backend else False,
                "direction": direction,
                "operation": operation,
                "object_type": object_type,
                "external_id": external_id,
                "res_model": record._name if record else res_model,
                "res_id": record.id if record else res_id,
                "event_id": event.id if event else False,
                "correlation_id": event.correlation_id if event else False,
                "outcome": outcome,
                "message": message,
                "values": json.dumps(values, default=str, sort_keys=True, ensure_ascii=False)
                if values
                else False,
            }
        )

    @api.model_create_multi
    def create(self, vals_list):
        # The seal is given by _seal_chain only, never by whoever inserts the row.
        vals_list = [
            {k: v for k, v in vals.items() if k not in ("hash", "prev_hash", "chain_seq")}
            for vals in vals_list
        ]
        records = super().create(vals_list)
        self._trigger_seal()
        return records

    def write(self, vals):
        if not self.env.su:
            raise AccessError(_("The connector audit log cannot be changed."))
        return super().write(vals)

    def unlink(self):
        if not self.env.su:
            raise AccessError(_("The connector audit log cannot be deleted."))
        return super().unlink()

    # Hash chain ------------------------------------------------------------------------

    @api.model
    def _trigger_seal(self):
        """Have the sealing cron run right after this transaction commits.

        Once per transaction: the flag lives in the post-commit data, which only a
        commit or a rollback clears (pre-commit hooks also run before every savepoint).
        The trigger row is inserted by a pre-commit hook, i.e. at the latest just before
        the commit, and outside the savepoint of the event that logged the row.
        """
        cr = self.env.cr
        if cr.postcommit.data.get("psa_audit_seal_triggered"):
            return
        cr.postcommit.data["psa_audit_seal_triggered"] = True
        cr.precommit.add(self._insert_seal_trigger)

    @api.model
    def _insert_seal_trigger(self):
        cron = self.env.ref("psa_connector_base.ir_cron_psa_audit_seal", raise_if_not_found=False)
        if cron:
            # A little later, not at once: during a month-end burst every job commit
            # asks for a seal, and sealing right away competes with the jobs for the
            # same cores; one seal after the burst does the same work (verification
            # always seals first, so nothing waits on it).
            delay = timedelta(seconds=SEAL_DELAY_SECONDS)
            cron.sudo()._trigger(at=fields.Datetime.now() + delay)

    @api.model
    def _cron_seal_chain(self):
        return self._seal_chain()

    @api.model
    def _seal_chain(self):
        """Give every unsealed committed row its place and hash in the chain; return how
        many were sealed. Holds an advisory lock until the end of the transaction only."""
        cr = self.env.cr
        self.flush_model()
        cr.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        cr.execute(
            "SELECT chain_seq, hash FROM psa_audit_log WHERE chain_seq IS NOT NULL "
            "ORDER BY chain_seq DESC LIMIT 1"
        )
        last = cr.fetchone()
        seq, previous = last if last else (0, None)
        sealed = 0
        last_id = 0
        while True:
            cr.execute(
                SQL(
                    "SELECT %s FROM psa_audit_log WHERE hash IS NULL AND id > %s "
                    "ORDER BY id LIMIT %s",
                    _hashed_columns(),
                    last_id,
                    CHUNK,
                )
            )
            rows = cr.dictfetchall()
            if not rows:
                break
            updates = []
            for row in rows:
                seq += 1
                digest = chain_hash(previous, row)
                updates.append((row["id"], seq, previous, digest))
                previous = digest
            execute_values(
                cr._obj,
                """UPDATE psa_audit_log a SET chain_seq = v.seq, prev_hash = v.prev,
                          hash = v.hash
                     FROM (VALUES %s) AS v(id, seq, prev, hash)
                    WHERE a.id = v.id""",
                updates,
                template="(%s, %s, %s::varchar, %s::varchar)",
            )
            sealed += len(rows)
            last_id = rows[-1]["id"]
        if sealed:
            self.invalidate_model(["chain_seq", "prev_hash", "hash"])
        return sealed

    @api.model
    def _verify_chain(self):
        """None when the chain holds, else (row id, what differs) for the first broken row."""
        self._seal_chain()
        cr = self.env.cr
        previous = None
        expected_seq = 1
        while True:
            cr.execute(
                SQL(
                    "SELECT %s, chain_seq, prev_hash, hash FROM psa_audit_log "
                    "WHERE chain_seq >= %s ORDER BY chain_seq LIMIT %s",
                    _hashed_columns(),
                    expected_seq,
                    CHUNK,
                )
            )
            rows = cr.dictfetchall()
            if not rows:
                return None
            for row in rows:
                if row["chain_seq"] != expected_seq:
                    return row["id"], _(
                        "the row(s) at chain position %(missing)s before it are missing "
                        "(deleted)",
                        missing=expected_seq
                        if row["chain_seq"] == expected_seq + 1
                        else f"{expected_seq}-{row['chain_seq'] - 1}",
                    )
                if row["prev_hash"] != previous:
                    return row["id"], _(
                        "its link to the previous row is broken (previous hash %(stored)s, "
                        "chain holds %(expected)s)",
                        stored=row["prev_hash"],
                        expected=previous,
                    )
                recomputed = chain_hash(previous, row)
                if recomputed != row["hash"]:
                    return row["id"], _(
                        "its contents changed after it was sealed (stored hash %(stored)s, "
                        "contents hash to %(recomputed)s); covered fields: %(fields)s",
                        stored=row["hash"],
                        recomputed=recomputed,
                        fields=", ".join(HASHED_COLUMNS),
                    )
                previous = row["hash"]
                expected_seq += 1

    @api.model
    @requires_group(MANAGER)
    def action_verify_chain(self):
        """Check the whole chain; tell the manager whether it holds or where it breaks."""
        broken = self._verify_chain()
        if broken is None:
            cr = self.env.cr
            cr.execute("SELECT count(*) FROM psa_audit_log")
            count = cr.fetchone()[0]
            title = _("Audit log intact")
            message = _("All %s audit rows match their hash chain.", count)
            kind = "success"
        else:
            title = _("Audit log tampered with")
            message = _(
                "The chain breaks at audit row #%(id)s: %(what)s.", id=broken[0], what=broken[1]
            )
            kind = "danger"
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": title, "message": message, "type": kind, "sticky": True},
        }
