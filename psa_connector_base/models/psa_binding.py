import json
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..tools.versions import compare_versions, normalize_timestamp


class PsaBinding(models.Model):
    """Links one external object of one backend to one Odoo record."""

    _name = "psa.binding"
    _inherit = ["psa.workflow.guard.mixin"]
    _description = "PSA Connector External ID Binding"
    # What a binding points to is decided by the sync (and the map wizard), never typed in:
    # a binding to a record of another model is a way to make the sync write there.
    _psa_workflow_fields = (
        "backend_id",
        "external_type",
        "external_id",
        "res_model",
        "res_id",
        "external_version",
        "external_updated_at",
        "last_sync_date",
        "synced_values",
    )
    _order = "id desc"
    _rec_name = "external_id"

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    # Precomputed: known at insert, so a month-end batch of bindings is one INSERT per
    # hundred rows, not an INSERT and then an UPDATE of every row to set it.
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, precompute=True
    )
    external_type = fields.Char(required=True, index=True)
    external_id = fields.Char(string="External ID", required=True, index=True)
    res_model = fields.Char(string="Odoo model", required=True, index=True)
    res_id = fields.Many2oneReference(string="Odoo record ID", model_field="res_model", index=True)
    record_name = fields.Char(compute="_compute_record_name")
    external_version = fields.Integer()
    external_updated_at = fields.Char(
        help="The external record's updated_at at the last applied sync, full precision."
    )
    last_sync_date = fields.Datetime()
    synced_values = fields.Text(
        help="Odoo values as of the last sync, to tell a local change from an incoming one."
    )

    _sql_constraints = [
        (
            "external_unique",
            "unique(backend_id, external_type, external_id)",
            "An external object can be bound only once per backend.",
        ),
        (
            "record_unique",
            "unique(backend_id, external_type, res_model, res_id)",
            "An Odoo record can be bound to only one external object of a type per backend.",
        ),
    ]

    @api.depends("res_model", "res_id")
    def _compute_record_name(self):
        for binding in self:
            record = binding._record()
            # Only the name of a record the user may read (else the whole list of
            # bindings failed for a user without access to, say, timesheets or leave).
            readable = record and record.has_access("read")
            binding.record_name = record.display_name if readable else False

    def _record(self):
        self.ensure_one()
        if not (self.res_model and self.res_id) or self.res_model not in self.env:
            return None
        record = self.env[self.res_model].browse(self.res_id).with_context(active_test=False)
        return record if record.exists() else None

    @api.model
    def _find(self, backend, external_type, external_id):
        return self.search(
            [
                ("backend_id", "=", backend.id),
                ("external_type", "=", external_type),
                ("external_id", "=", str(external_id)),
            ],
            limit=1,
        )

    @api.model
    def _find_record(self, backend, external_type, external_id):
        """The Odoo record bound to an external id, or None."""
        binding = self._find(backend, external_type, external_id)
        return binding._record() if binding else None

    @api.model
    def _external_ids_of(self, backend, external_type, records):
        """{res_id: external_id} for already bound ``records``, in one query."""
        bindings = self.search_read(
            [
                ("backend_id", "=", backend.id),
                ("external_type", "=", external_type),
                ("res_model", "=", records._name),
                ("res_id", "in", records.ids),
            ],
            ["res_id", "external_id"],
        )
        return {b["res_id"]: b["external_id"] for b in bindings}

    def _compare_version(self, version, updated_at):
        self.ensure_one()
        return compare_versions(
            (version, normalize_timestamp(updated_at)),
            (self.external_version, self.external_updated_at),
        )

    def _synced_values(self):
        self.ensure_one()
        return json.loads(self.synced_values or "{}")

    @api.model
    def _psa_bindable_models(self):
        """{external type: {Odoo models}} a binding may link; each addon extends it.

        Every importer declares its pair (``_psa_object_type`` -> ``_psa_odoo_model``);
        an addon binding other pairs (e.g. billing's vendors) adds them in an override.
        """
        result = defaultdict(set)
        for name in self.env.registry:
            if not name.startswith("psa.importer."):
                continue
            importer = self.env[name]
            if importer._psa_object_type and importer._psa_odoo_model:
                result[importer._psa_object_type].add(importer._psa_odoo_model)
        return result

    def _psa_check_bindable(self, pairs):
        """Refuse (external type, model) pairs no addon declared (code under sudo passes)."""
        if self.env.su:
            return
        allowed = self._psa_bindable_models()
        for external_type, res_model in pairs:
            if res_model not in allowed.get(external_type, ()):
                raise AccessError(
                    _(
                        "A %(type)s cannot be bound to a record of %(model)s.",
                        type=external_type,
                        model=res_model,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        self._psa_check_bindable(
            (vals.get("external_type"), vals.get("res_model")) for vals in vals_list
        )
        bindings = super().create(vals_list)
        # Events that were waiting for one of these objects can now be applied.
        self.env["psa.exception"]._wake_waiting(bindings)
        self._trigger_reference_sweep()
        return bindings

    def write(self, vals):
        if {"external_type", "res_model"} & set(vals):
            self._psa_check_bindable(
                (vals.get("external_type", b.external_type), vals.get("res_model", b.res_model))
                for b in self
            )
        return super().write(vals)

    def _trigger_reference_sweep(self):
        """Sweep for waiters right after this transaction commits, once per transaction.

        Waiters recorded by concurrent jobs are invisible to ``_wake_waiting`` here; the
        sweep runs in a later transaction instead of at the next minute. The trigger is
        due at once: the cron worker is notified on commit and sleeps past anything later.
        """
        flags = self.env.cr.precommit.data
        if flags.get("psa_reference_sweep_triggered"):
            return
        flags["psa_reference_sweep_triggered"] = True
        cron = self.env.ref(
            "psa_connector_base.ir_cron_psa_retry_arrived_references", raise_if_not_found=False
        )
        if cron:
            cron.sudo()._trigger()
