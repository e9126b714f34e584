import json

from odoo import _, api, models
from odoo.tools import html2plaintext

from ..tools.errors import MissingReference, PayloadInvalid, SyncConflict
from ..tools.jobs import execute_racing
from ..tools.schema import load_schema, validate
from ..tools.versions import normalize_timestamp

# Upper bound of psa_connector_base.lanes.<object type>: a lane is a queue_job channel of
# capacity 1 to configure (and a channel record, for queue_job's cleanup of done jobs).
# More lanes than the parent channel's capacity is how the work is balanced: with three
# projects in two lanes one lane had two thirds of it (`make bench`: 0.72-0.80 of the
# floor), in three lanes over capacity 2 whichever lane has a chunk waiting runs (0.93).
MAX_LANES = 8


class PsaImporter(models.AbstractModel):
    """Applies one canonical record to Odoo.

    Subclasses are named ``psa.importer.<object type>`` and implement
    :meth:`_map_values`; the flow around it (lock, staleness, ownership, binding,
    audit, write-back) is shared. Small hooks are meant to be overridden.
    """

    _name = "psa.importer"
    _description = "PSA Connector Importer"
    _psa_object_type = None
    _psa_odoo_model = None
    _psa_write_back = True
    # queue_job priority (lower runs first): parents before the records pointing to them.
    _psa_priority = 50
    # queue_job channel for chunks of this type; None keeps the job function's (root.psa).
    _psa_channel = None
    # Lanes: (object type, payload key) of the parent that partitions this type's jobs,
    # e.g. ("project", "project_id"). With the system parameter
    # psa_connector_base.lanes.<object type> above 1, every job of the type runs in the
    # sub-channel <_psa_channel>.lane<n> of its parent's lane (the Odoo id of the bound
    # parent modulo the number of lanes; unbound: lane 0), so chunks of different parents
    # apply side by side while those of one parent keep their order. None: no lanes.
    _psa_lane_from = None
    # Set to a psa.idempotency.record.mixin model: the record takes effect once per
    # idempotency key instead of being kept in step through a binding (_import_once).
    _psa_idempotency_model = None
    # Entity routing (_target_company): a root record's payload names its legal entity,
    # which psa.entity.mapping routes to a company; a dependent record takes the company
    # of the first parent found among (object type, payload key) of _psa_company_from.
    _psa_entity_routed = False
    _psa_company_from = ()

    @api.model
    def _for_object_type(self, object_type):
        name = f"psa.importer.{object_type}"
        if not object_type or name not in self.env:
            raise PayloadInvalid(_("Unsupported object type %r.", object_type))
        return self.env[name]

    @api.model
    def _for_object_type_or_none(self, object_type):
        name = f"psa.importer.{object_type}"
        return self.env[name] if object_type and name in self.env else None

    def _import_events(self, events):
        """Apply a chunk of events of this importer's type; returns one line per event.

        The default applies them one by one, each in its own savepoint. Importers facing
        month-end volumes override it with batched reads and creates.
        """
        return [event._process_one() for event in events]

    @api.model
    def _channel_for(self, object_type, lane=0):
        """queue_job channel of this type's jobs in ``lane`` (None: the job function's
        channel): the type's own channel, or its lane's sub-channel when it has lanes."""
        importer = self._for_object_type_or_none(object_type)
        if importer is None:
            return None
        channel = importer._psa_channel
        if channel and importer._lane_count() > 1:
            return f"{channel}.lane{lane or 0}"
        return channel

    @api.model
    def _lane_count(self):
        """How many lanes this type's jobs run in (system parameter
        psa_connector_base.lanes.<object type>, 1 to MAX_LANES; 1 without _psa_lane_from)."""
        if not (self._psa_lane_from and self._psa_channel):
            return 1
        value = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(f"psa_connector_base.lanes.{self._psa_object_type}", "1")
        )
        try:
            return min(max(int(value), 1), MAX_LANES)
        except ValueError:
            return 1

    @api.model
    def _lanes_of(self, backend, events):
        """{event id: lane} of ``events`` (of this type and ``backend``): the lane of the
        Odoo record bound to the parent their payload names, lane 0 when it names none
        or an unbound one (such an event waits for its parent anyway)."""
        lanes = self._lane_count()
        if lanes == 1:
            return dict.fromkeys(events.ids, 0)
        parent_type, key = self._psa_lane_from
        events.flush_recordset(["payload"])
        self.env.cr.execute("SELECT id, payload FROM psa_event WHERE id = ANY(%s)", [events.ids])
        parent_of = {}
        for event_id, payload in self.env.cr.fetchall():
            try:
                parent = (json.loads(payload or "{}").get("data") or {}).get(key)
            except (ValueError, AttributeError):
                # An unreadable payload fails in its job, whichever lane it is in.
                parent = None
            parent_of[event_id] = str(parent) if parent not in (None, "") else None
        bindings = (
            self.env["psa.binding"]
            .sudo()
            .search_read(
                [
                    ("backend_id", "=", backend.id),
                    ("external_type", "=", parent_type),
                    ("external_id", "in", list(set(parent_of.values()) - {None})),
                ],
                ["external_id", "res_id"],
            )
        )
        res_ids = {binding["external_id"]: binding["res_id"] or 0 for binding in bindings}
        return {event_id: res_ids.get(parent, 0) % lanes for event_id, parent in parent_of.items()}

    @api.model
    def _priority_for(self, object_type):
        name = f"psa.importer.{object_type}"
        return self.env[name]._psa_priority if name in self.env else self._psa_priority

    # Flow ------------------------------------------------------------------------

    def _import(self, event, action, data):
        """Return (event state, message).

        The steps are the hooks below (``_action_for``, ``_must_skip``,
        ``_before_import``, ``_after_import``, and those of the two ways a record is
        applied); importers override those, never this.
        """
        backend = event.backend_id
        self = self.with_company(self._target_company(backend, action, data))
        action = self._action_for(backend, action, data)
        skipped = self._must_skip(event, action, data)
        if skipped:
            return skipped
        self._before_import(event, action, data)
        if self._psa_idempotency_model:
            result = self._import_once(event, action, data)
        else:
            result = self._import_bound(event, action, data)
        self._after_import(event, action, data)
        return result

    def _import_bound(self, event, action, data):
        """Apply a record kept in step with its remote object through its binding."""
        backend = event.backend_id
        object_type = self._psa_object_type
        external_id = self._external_id(data)
        self._lock(backend, external_id)
        binding = self.env["psa.binding"]._find(backend, object_type, external_id)
        record = binding._record() if binding else None
        if binding:
            order = binding._compare_version(data.get("version"), data.get("updated_at"))
            if order is not None and order < 0:
                self._audit(
                    event,
                    "skip_stale",
                    external_id,
                    record,
                    outcome="skipped",
                    message=_("Older than the version Odoo holds; skipped."),
                )
                return "skipped", _("stale: older than the applied version")
            if order == 0 and record and action != "deleted":
                return "skipped", _("this version is already applied")
        if action == "deleted":
            state, message = self._apply_delete(event, binding, record, external_id)
            if binding:
                # Remember the version, so a replay of an older one cannot resurrect it.
                binding.write(self._binding_version_values(data))
            else:
                self._remember_removal(backend, external_id, data)
            return state, message
        self._validate(data)
        values = self._map_values(backend, data)
        if record:
            message = self._apply_update(event, binding, record, values, data)
        else:
            record, message = self._apply_create(event, binding, external_id, values, data)
            binding = self.env["psa.binding"]._find(backend, object_type, external_id)
        binding.write(
            {
                **self._binding_version_values(data),
                "synced_values": json.dumps(self._comparable_values(record, values), default=str),
            }
        )
        return "done", message

    def _import_once(self, event, action, data):
        """Apply a record that takes effect once (a billing event, a vendor bill).

        No binding: the importer's ``_psa_idempotency_model`` (a
        ``psa.idempotency.record.mixin``) keeps one row per idempotency key, the remote
        id, claimed in the savepoint the effect is written in; a second application of
        the key (replay, redelivery, a racing worker) finds it and is skipped.
        """
        backend = event.backend_id
        key = self._external_id(data)
        self._validate(data)
        target, claim_values = self._claim_target(backend, data)
        Record = self.env[self._psa_idempotency_model]
        record = Record._claim(backend, key, {**claim_values, "event_id": event.id})
        if not record:
            return self._skip_applied(event, key, Record._find(backend, key), target)
        return self._apply_claimed(event, key, record, target, data)

    def _remember_removal(self, backend, external_id, data):
        """A removal that overtook the creation it undoes: keep its version.

        Webhooks arrive in any order. Without a trace, the older "created" or
        "approved" version still on its way would create the record afterwards; a
        binding without a record, holding the removal's version, makes it stale.
        """
        values = self._binding_version_values(data)
        if not (values["external_version"] or values["external_updated_at"]):
            return
        # res_id NULL, not 0 (what the ORM stores for False): the one-record-per-binding
        # index must not see two removals as the same record.
        self.env["psa.binding"].flush_model()
        execute_racing(
            self.env.cr,
            """INSERT INTO psa_binding (backend_id, company_id, external_type, external_id,
                   res_model, res_id, external_version, external_updated_at, last_sync_date,
                   create_uid, create_date, write_uid, write_date)
               VALUES (%s, %s, %s, %s, %s, NULL, %s, %s, %s, %s, now() at time zone 'utc',
                       %s, now() at time zone 'utc')
               ON CONFLICT DO NOTHING""",
            (
                backend.id,
                backend.company_id.id,
                self._psa_object_type,
                external_id,
                self._psa_odoo_model,
                values["external_version"] or None,
                values["external_updated_at"] or None,
                values["last_sync_date"],
                self.env.uid,
                self.env.uid,
            ),
        )
        self.env["psa.binding"].invalidate_model()

    def _binding_version_values(self, data):
        return {
            "external_version": data.get("version") or False,
            "external_updated_at": normalize_timestamp(data.get("updated_at")),
            "last_sync_date": self.env.cr.now(),
        }

    def _apply_create(self, event, binding, external_id, values, data):
        backend = event.backend_id
        record = self._match_existing(backend, values, data)
        if record:
            operation, message = "match", _("matched existing %s", record.display_name)
        else:
            record = self._create_record(backend, values, data)
            operation, message = "create", _("created %s", record.display_name)
        if binding:
            binding.write({"res_model": record._name, "res_id": record.id})
        else:
            self.env["psa.binding"].create(
                {
                    "backend_id": backend.id,
                    "external_type": self._psa_object_type,
                    "external_id": external_id,
                    "res_model": record._name,
                    "res_id": record.id,
                }
            )
        self._audit(event, operation, external_id, record, values=values)
        self._after_create(event, record, data)
        if self._psa_write_back:
            backend._enqueue_write_back(
                self._psa_object_type, external_id, self._write_back_refs(record)
            )
        return record, message

    def _apply_update(self, event, binding, record, values, data):
        """Apply the fields the remote system owns; keep Odoo's, flag real conflicts."""
        backend = event.backend_id
        odoo_owned = self.env["psa.ownership.rule"]._odoo_owned(backend, self._psa_object_type)
        synced = binding._synced_values()
        current = self._comparable_values(record, values)
        incoming = self._comparable_values(record, values, use=values)
        to_write, kept, conflicts = {}, {}, {}
        for name, value in values.items():
            if incoming[name] == current[name]:
                continue
            if name not in odoo_owned:
                to_write[name] = value
                continue
            kept[name] = incoming[name]
            changed_locally = name in synced and current[name] != synced[name]
            changed_remotely = name not in synced or incoming[name] != synced[name]
            if changed_locally and changed_remotely:
                conflicts[name] = (incoming[name], current[name])
        external_id = binding.external_id
        if to_write:
            record.write(to_write)
            self._audit(event, "update", external_id, record, values=to_write)
        if kept:
            self._audit(
                event,
                "skip_owned",
                external_id,
                record,
                outcome="skipped",
                values=kept,
                message=_("Fields owned by Odoo were not changed."),
            )
        if conflicts:
            self._raise_conflict(event, record, conflicts)
        self._after_update(event, record, data, to_write)
        parts = [_("updated %s field(s)", len(to_write))]
        if kept:
            parts.append(_("kept Odoo's %s", ", ".join(sorted(kept))))
        if conflicts:
            parts.append(_("conflict on %s raised", ", ".join(sorted(conflicts))))
        return "; ".join(parts)

    def _raise_conflict(self, event, record, conflicts):
        error = SyncConflict(
            _(
                "%(record)s was changed in Odoo and in %(backend)s: %(fields)s. Odoo owns "
                "these fields, so its values were kept; decide whether to keep them.",
                record=record.display_name,
                backend=event.backend_id.name,
                fields=", ".join(sorted(conflicts)),
            ),
            incoming={k: v[0] for k, v in conflicts.items()},
            current={k: v[1] for k, v in conflicts.items()},
        )
        error.details.update(res_model=record._name, res_id=record.id)
        self.env["psa.exception"].sudo().create(
            {
                **self.env["psa.exception"]._exception_values(error, event=event),
                "payload": event.payload,
            }
        )

    def _apply_delete(self, event, binding, record, external_id):
        if not record:
            return "skipped", _("deleted remotely; Odoo holds no record of it")
        if "active" in record._fields:
            record.active = False
            operation = "archive"
        else:
            record.unlink()
            operation = "delete"
        self._audit(event, operation, external_id, record if record.exists() else None)
        return "done", _("%s after remote deletion", operation)

    # Hooks -----------------------------------------------------------------------

    def _target_company(self, backend, action, data):
        """The company the record lands in (the one place routing is decided).

        Root records (``_psa_entity_routed``: customers, projects, employees,
        departments) through their ``legal_entity`` and the backend's entity mappings
        (none: the backend's company; an unmapped one raises UnmappedEntity); dependent
        records take their parent's company (``_psa_company_from``), the backend's while
        the parent is not in Odoo yet (the importer then waits for it). A record already
        bound stays in its company (fixed at creation); a removal needs no routing: it
        acts on the bound record, wherever it is.
        """
        if action == "deleted" or not isinstance(data, dict):
            return backend.company_id
        Binding = self.env["psa.binding"]
        external_id = data.get("id")
        if external_id not in (None, "") and isinstance(external_id, str | int):
            # Fixed at creation: an update applies where the record is.
            record = Binding._find_record(backend, self._psa_object_type, str(external_id))
            if record and "company_id" in record._fields and record.company_id:
                return record.company_id
        if self._psa_entity_routed:
            return self.env["psa.entity.mapping"]._company_for(backend, data.get("legal_entity"))
        for object_type, key in self._psa_company_from:
            reference = data.get(key)
            if reference in (None, "") or not isinstance(reference, str | int):
                continue
            record = Binding._find_record(backend, object_type, str(reference))
            if record and "company_id" in record._fields and record.company_id:
                return record.company_id
        return backend.company_id

    def _share_partner(self, partner):
        """A customer of another company used here becomes shared (no company), as Odoo
        shares a partner used by several companies; its contacts follow it."""
        company = self.env.company
        if partner and partner.company_id and partner.company_id != company:
            partner.commercial_partner_id.write({"company_id": False})
        return partner

    def _action_for(self, backend, action, data):
        """The action to apply: e.g. a record no longer approved is applied as deleted."""
        return action

    def _must_skip(self, event, action, data):
        """(state, message) to leave the event at without applying it, or None."""
        return None

    def _before_import(self, event, action, data):
        pass

    def _after_import(self, event, action, data):
        pass

    # Applied once by idempotency key (``_psa_idempotency_model`` set):

    def _claim_target(self, backend, data):
        """(the Odoo record the effect lands on, values of the claimed row)."""
        raise NotImplementedError

    def _skip_applied(self, event, key, existing, target):
        """(state, message) of a key already applied, ``existing`` its claimed row."""
        raise NotImplementedError

    def _apply_claimed(self, event, key, record, target, data):
        """Write the effect of a just-claimed key; (state, message)."""
        raise NotImplementedError

    def _external_id(self, data):
        external_id = data.get("id")
        if external_id in (None, "") or not isinstance(external_id, str | int):
            raise PayloadInvalid(_("The record has no usable 'id'."))
        return str(external_id)

    def _validate(self, data):
        problems = validate(data, load_schema(self._psa_object_type))
        if problems:
            raise PayloadInvalid(
                _(
                    "The %(type)s record does not match the canonical schema: %(problems)s",
                    type=self._psa_object_type,
                    problems="; ".join(problems[:10]),
                ),
                problems=problems,
            )

    def _map_values(self, backend, data):
        raise NotImplementedError

    def _match_existing(self, backend, values, data):
        """An existing Odoo record to bind instead of creating one (empty: create)."""
        return self.env[self._psa_odoo_model].browse()

    def _create_record(self, backend, values, data):
        return self.env[self._psa_odoo_model].create(values)

    def _after_create(self, event, record, data):
        pass

    def _after_update(self, event, record, data, written):
        pass

    def _write_back_refs(self, record):
        return {"id": record.id, "model": record._name}

    # Suggestions for a missing reference of this type -------------------------------
    # psa.exception ranks Odoo records that may be the object a waiting change names;
    # each importer says what identifies its objects (attributes of tools/suggest.WEIGHTS:
    # name, code, email, vat).

    @api.model
    def _suggestion_hints(self, backend, data, referring_data):
        """{attribute: text} known about the missing object, plus any key the domain
        hook reads. ``data`` is what is known of the object itself (at least its id),
        ``referring_data`` the payload that names it."""
        return {"name": data.get("name")}

    @api.model
    def _suggestion_domain(self, backend, hints):
        """The records of the backend's companies that may be the missing object."""
        companies = self.env["psa.entity.mapping"]._companies_of(backend)
        return [("company_id", "in", [False, *companies.ids])]

    @api.model
    def _suggestion_values(self, records):
        """{record id: {attribute: text}} of the candidates, in the hints' terms."""
        return {record.id: {"name": record.display_name} for record in records}

    # Helpers ---------------------------------------------------------------------

    def _lock(self, backend, external_id):
        """Serialize work on one external object across workers (until commit)."""
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            (backend.id, f"{self._psa_object_type}:{external_id}"),
        )

    def _resolve(self, backend, object_type, external_id):
        """The Odoo record bound to a referenced external object, or wait for it."""
        record = self.env["psa.binding"]._find_record(backend, object_type, external_id)
        if not record:
            raise MissingReference(object_type, str(external_id))
        return record

    def _state_mapping(self, backend, object_type, external_state):
        mapping = self.env["psa.state.mapping"]._lookup(backend, object_type, external_state)
        if external_state and not mapping:
            raise PayloadInvalid(
                _(
                    "No state mapping for %(type)s state %(state)r on %(backend)s; add one "
                    "under the backend's state mappings.",
                    type=object_type,
                    state=external_state,
                    backend=backend.name,
                )
            )
        return mapping

    def _comparable_values(self, record, values, use=None):
        """Values in one comparable, JSON-able shape, from ``record`` or from ``use``."""
        result = {}
        for name in values:
            field = record._fields[name]
            raw = use[name] if use is not None else record[name]
            if field.type == "many2one":
                result[name] = (raw if isinstance(raw, int) else raw.id) or False
            elif field.type in ("many2many", "one2many"):
                ids = raw.ids if use is None else [i for cmd in raw for i in (cmd[2] or [])]
                result[name] = sorted(ids)
            elif field.type == "html":
                result[name] = _plain(raw)
            elif field.type in ("date", "datetime"):
                result[name] = str(raw) if raw else False
            elif field.type == "float":
                result[name] = round(raw or 0.0, 6)
            else:
                result[name] = raw or False
        return result

    def _audit(
        self, event, operation, external_id, record, outcome="success", message=None, values=None
    ):
        return self.env["psa.audit.log"]._log(
            backend=event.backend_id,
            direction="in",
            operation=operation,
            object_type=self._psa_object_type,
            external_id=external_id,
            record=record,
            event=event,
            outcome=outcome,
            message=message,
            values=values,
        )


def _plain(html):
    return html2plaintext(html or "").strip() or False
