from odoo import Command, models


class PsaImporterTask(models.AbstractModel):
    _name = "psa.importer.task"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Tasks"
    _psa_object_type = "task"
    _psa_priority = 30
    _psa_odoo_model = "project.task"

    def _map_values(self, backend, data):
        project = self._resolve(backend, "project", data["project_id"])
        values = {"name": data["name"], "project_id": project.id}
        if "description" in data:
            values["description"] = data["description"] or False
        if "planned_hours" in data:
            values["allocated_hours"] = data["planned_hours"] or 0.0
        mapping = self._state_mapping(backend, "task", data.get("state"))
        if mapping:
            if mapping.task_state:
                values["state"] = mapping.task_state
            values["active"] = mapping.set_active
        if data.get("assignee_email"):
            user = self.env["res.users"].search(
                [("login", "=ilike", data["assignee_email"])], limit=1
            )
            if user:
                values["user_ids"] = [Command.set(user.ids)]
        return values
