from odoo import _, models

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid
from odoo.addons.psa_connector_base.tools.versions import normalize_timestamp


class PsaImporterLeave(models.AbstractModel):
    """Approved leave becomes validated Odoo time off (``hr.leave``).

    Time off is what Odoo subtracts from working time everywhere (resource calendar
    leaves), so capacity planning needs no second source. Anything but an approved
    leave withdraws the time off Odoo holds for it: it is cancelled, never deleted.
    """

    _name = "psa.importer.leave"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Leave"
    _psa_object_type = "leave"
    _psa_odoo_model = "hr.leave"
    # In the employee's company (entity routing, psa.importer._target_company).
    _psa_company_from = (("employee", "employee_id"),)
    # After the employees the leave belongs to.
    _psa_priority = 40
    _psa_write_back = False

    def _action_for(self, backend, action, data):
        if action != "deleted" and data.get("state") != "approved":
            self._validate(data)
            # Requested, refused or cancelled: not (or no longer) time off.
            return "deleted"
        return super()._action_for(backend, action, data)

    def _after_import(self, event, action, data):
        super()._after_import(event, action, data)
        if action == "deleted":
            self._remember_version(event.backend_id, data)

    def _remember_version(self, backend, data):
        """Keep the version of a withdrawal, so a late older approval is seen as stale.

        The shared flow records versions only for applied records; a leave Odoo holds
        no time off for still gets a binding (without a record) to carry its version.
        """
        external_id = self._external_id(data)
        Binding = self.env["psa.binding"]
        binding = Binding._find(backend, "leave", external_id)
        if binding:
            order = binding._compare_version(data.get("version"), data.get("updated_at"))
            if order is not None and order <= 0:
                return
        else:
            binding = Binding.create(
                {
                    "backend_id": backend.id,
                    "external_type": "leave",
                    "external_id": external_id,
                    "res_model": "hr.leave",
                    "res_id": False,
                }
            )
        binding.write(
            {
                "external_version": data.get("version") or False,
                "external_updated_at": normalize_timestamp(data.get("updated_at")),
                "last_sync_date": self.env.cr.now(),
            }
        )

    def _map_values(self, backend, data):
        if data["date_to"] < data["date_from"]:
            raise PayloadInvalid(_("The leave ends (date_to) before it starts (date_from)."))
        employee = self._resolve(backend, "employee", data["employee_id"])
        leave_type = self.env["hr.leave.type"]._psa_for(
            self.env.company, data.get("leave_type") or "other"
        )
        return {
            "employee_id": employee.id,
            "holiday_status_id": leave_type.id,
            "request_date_from": data["date_from"],
            "request_date_to": data["date_to"],
        }

    def _create_record(self, backend, values, data):
        # The HR system approved it: Odoo's approval rights do not apply to the sync.
        leave = self.env["hr.leave"].sudo().create(values)
        if leave.state != "validate":
            leave.action_validate()
        return leave.sudo(False)

    def _apply_update(self, event, binding, record, values, data):
        current = self._comparable_values(record, values)
        incoming = self._comparable_values(record, values, use=values)
        changed = {name: values[name] for name in values if incoming[name] != current[name]}
        if not changed and record.state == "validate":
            return _("unchanged")
        leave = record.sudo()
        if leave.state != "confirm":
            # Odoo forbids changing approved time off: reopen, change, approve again.
            leave.write({"state": "confirm"})
        if changed:
            leave.write(changed)
        leave.action_validate()
        self._audit(
            event, "update", binding.external_id, record, values={**changed, "state": "validate"}
        )
        return _("updated %s field(s)", len(changed))

    def _apply_delete(self, event, binding, record, external_id):
        if not record or record.state in ("cancel", "refuse"):
            return "skipped", _("no approved time off in Odoo to withdraw")
        record.sudo()._force_cancel(
            _("Withdrawn in the HR system."), msg_subtype="mail.mt_note", notify_responsibles=False
        )
        self._audit(event, "update", external_id, record, values={"state": "cancel"})
        return "done", _("time off cancelled")
