from odoo import api, models


class PsaImporterProject(models.AbstractModel):
    _name = "psa.importer.project"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Projects"
    _psa_object_type = "project"
    _psa_priority = 20
    _psa_odoo_model = "project.project"
    _psa_entity_routed = True

    def _before_import(self, event, action, data):
        super()._before_import(event, action, data)
        # A PSA may embed the customer in the project event: apply it first, same path.
        if action != "deleted" and isinstance(data.get("customer"), dict):
            self.env["psa.importer.customer"]._import(event, "updated", data["customer"])

    def _map_values(self, backend, data):
        values = {"name": data["name"]}
        if "customer_id" in data:
            values["partner_id"] = (
                self._share_partner(self._resolve(backend, "customer", data["customer_id"])).id
                if data["customer_id"]
                else False
            )
        if "date_start" in data:
            values["date_start"] = data["date_start"] or False
        if "date_end" in data:
            values["date"] = data["date_end"] or False
        if "description" in data:
            values["description"] = data["description"] or False
        mapping = self._state_mapping(backend, "project", data.get("state"))
        if mapping:
            if mapping.project_stage_id:
                values["stage_id"] = mapping.project_stage_id.id
            values["active"] = mapping.set_active
        return values

    def _create_record(self, backend, values, data):
        project = self.env["project.project"].create({**values, "company_id": self.env.company.id})
        if not project.account_id:
            project._create_analytic_account()
        project.account_id.code = data.get("code") or data["id"]
        return project

    def _write_back_refs(self, record):
        return {
            **super()._write_back_refs(record),
            "analytic_account_id": record.account_id.id or None,
            "analytic_account_code": record.account_id.code or None,
        }

    # Suggestions for a missing project --------------------------------------------

    @api.model
    def _suggestion_hints(self, backend, data, referring_data):
        # A project created from the PSA carries its code (else its id) on the analytic
        # account (_create_record): the external id itself is a code hint.
        return {"name": data.get("name"), "code": data.get("code") or data.get("id")}

    @api.model
    def _suggestion_values(self, records):
        return {
            project.id: {"name": project.name, "code": project.account_id.code}
            for project in records
        }
