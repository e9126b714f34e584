from odoo import fields, models


class PsaImporterTimeEntry(models.AbstractModel):
    _inherit = "psa.importer.time_entry"

    def _create_record(self, backend, values, data):
        """A leaver's late approved time, dated up to their last day, still lands.

        The HR connector archives a leaver on termination, and Odoo refuses timesheets
        of archived employees; their last approved entries often arrive later. Only
        entries dated on or before the departure date are let through (their user is
        deactivated after them, see psa.leaver).
        """
        employee = (
            self.env["hr.employee"]
            .with_context(active_test=False)
            .browse(values.get("employee_id"))
            .exists()
        )
        if (
            employee
            and not employee.active
            and employee.departure_date
            and fields.Date.to_date(values.get("date")) <= employee.departure_date
        ):
            return (
                self.env[self._psa_odoo_model]
                .with_context(active_test=False)
                .create(values)
                .with_context(active_test=True)
            )
        return super()._create_record(backend, values, data)

    def _batchable(self, backend, events):
        # Archived employees' entries go one by one, through _create_record.
        batch = super()._batchable(backend, events)
        employees = (
            self.env["hr.employee"]
            .with_context(active_test=False)
            .browse({values["employee_id"] for _e, _d, values in batch})
        )
        archived = set(employees.filtered(lambda e: not e.active).ids)
        return [item for item in batch if item[2]["employee_id"] not in archived]
