from odoo import Command, api, models


class PsaImporterTask(models.AbstractModel):
    _name = "psa.importer.task"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Tasks"
    _psa_object_type = "task"
    _psa_priority = 30
    _psa_odoo_model = "project.task"
    _psa_company_from = (("project", "project_id"),)

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

    # Suggestions for a missing task -----------------------------------------------

    @api.model
    def _suggestion_hints(self, backend, data, referring_data):
        # A task's name is only meaningful within its project: the task's own payload
        # names it, else the referring one (a time entry names project and task).
        return {
            "name": data.get("name"),
            "project_id": data.get("project_id") or referring_data.get("project_id"),
        }

    @api.model
    def _suggestion_domain(self, backend, hints):
        domain = super()._suggestion_domain(backend, hints)
        project = hints.get("project_id") and self.env["psa.binding"]._find_record(
            backend, "project", str(hints["project_id"])
        )
        return [*domain, ("project_id", "=", project.id)] if project else domain

    @api.model
    def _suggestion_values(self, records):
        return {task.id: {"name": task.name} for task in records}
