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
        # The project's customer, as Odoo's form sets it: sale_timesheet prices a task's
        # time through the task's sale line, which needs the task's customer to match.
        values = {
            "name": data["name"],
            "project_id": project.id,
            "partner_id": project.partner_id.id or False,
        }
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
