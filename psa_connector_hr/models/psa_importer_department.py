from odoo import _, models

from odoo.addons.psa_connector_base.tools.errors import AmbiguousMatch


class PsaImporterDepartment(models.AbstractModel):
    _name = "psa.importer.department"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Departments"
    _psa_object_type = "department"
    _psa_odoo_model = "hr.department"
    # Before employees, which point to departments.
    _psa_priority = 12
    # The HR system has no use for Odoo's department ids.
    _psa_write_back = False
    _psa_entity_routed = True

    def _map_values(self, backend, data):
        values = {"name": data["name"]}
        if "parent_id" in data:
            # A parent department is a real dependency: wait for it.
            values["parent_id"] = (
                self._resolve(backend, "department", data["parent_id"]).id
                if data["parent_id"]
                else False
            )
        if "manager_id" in data and not data["manager_id"]:
            values["manager_id"] = False
        return values

    def _create_record(self, backend, values, data):
        return self.env["hr.department"].create({**values, "company_id": self.env.company.id})

    def _match_existing(self, backend, values, data):
        """A department created by hand with the same name is taken over, if only one."""
        candidates = self.env["hr.department"].search(
            [
                ("name", "=", values["name"]),
                ("company_id", "in", [False, self.env.company.id]),
            ]
        )
        bound = self.env["psa.binding"]._external_ids_of(backend, "department", candidates)
        candidates = candidates.filtered(lambda d: d.id not in bound)
        if len(candidates) > 1:
            raise AmbiguousMatch(
                _(
                    "Department %(name)s (%(id)s) matches %(count)s existing departments. "
                    "Nothing was created; rename or merge them, then retry.",
                    name=values["name"],
                    id=data.get("id"),
                    count=len(candidates),
                ),
                candidate_ids=candidates.ids,
            )
        return candidates or None

    def _after_create(self, event, record, data):
        self._link_manager(event.backend_id, record, data)

    def _after_update(self, event, record, data, written):
        self._link_manager(event.backend_id, record, data)

    def _link_manager(self, backend, department, data):
        # The manager is an employee, and employees are imported after departments:
        # waiting would deadlock, so the link is completed when the manager arrives.
        if data.get("manager_id"):
            self.env["psa.pending.link"]._set(
                backend, department, "manager_id", "employee", data["manager_id"]
            )
        elif "manager_id" in data:
            self.env["psa.pending.link"]._forget(department, "manager_id")
