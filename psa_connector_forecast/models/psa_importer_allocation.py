from odoo import _, models

from odoo.addons.psa_connector_base.tools.errors import MissingReference, PayloadInvalid


class PsaImporterAllocation(models.AbstractModel):
    """Allocations of the forecasting tool → ``psa.allocation``.

    A deletion removes the allocation (the shared flow unlinks records without an
    ``active`` field and audits it).
    """

    _name = "psa.importer.allocation"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Allocations"
    _psa_object_type = "allocation"
    _psa_odoo_model = "psa.allocation"
    # After the employees and projects allocations point to.
    _psa_priority = 60
    # The forecasting tool has no use for Odoo's allocation ids.
    _psa_write_back = False

    def _target_company(self, backend, action, data):
        """The project's company (bound on any backend of the company, as
        _resolve_project finds it); the backend's while it is missing."""
        if action != "deleted" and isinstance(data, dict) and data.get("project_id"):
            try:
                project = self._resolve_project(backend, data["project_id"])
            except MissingReference:
                project = None
            if project and project.company_id:
                return project.company_id
        return super()._target_company(backend, action, data)

    def _map_values(self, backend, data):
        if data["end_date"] < data["start_date"]:
            raise PayloadInvalid(_("The allocation ends (end_date) before it starts (start_date)."))
        employee = self.env["psa.importer.time_entry"]._resolve_employee(backend, data)
        project = self._resolve_project(backend, data["project_id"])
        return {
            "employee_id": employee.id,
            "project_id": project.id,
            "company_id": self.env.company.id,
            "date_from": data["start_date"],
            "date_to": data["end_date"],
            "hours_per_day": data["hours_per_day"],
            "role": data.get("role") or False,
            "status": data["status"],
        }

    def _resolve_project(self, backend, external_id):
        """The project bound on this backend, else on any backend of the company.

        The forecasting tool plans against the PSA's projects, so a project id it
        sends is usually bound on the PSA backend, not on its own.
        """
        Binding = self.env["psa.binding"]
        record = Binding._find_record(backend, "project", external_id)
        if record:
            return record
        binding = Binding.search(
            [
                ("company_id", "=", backend.company_id.id),
                ("external_type", "=", "project"),
                ("external_id", "=", str(external_id)),
                ("res_model", "=", "project.project"),
            ],
            order="id",
            limit=1,
        )
        project = binding._record() if binding else None
        if not project:
            raise MissingReference("project", str(external_id))
        return project
