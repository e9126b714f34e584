from odoo import _, api, fields, models
from odoo.tools import escape_psql

from odoo.addons.psa_connector_base.tools.errors import AmbiguousMatch, PayloadInvalid
from odoo.addons.psa_connector_base.tools.versions import parse_timestamp


class PsaImporterEmployee(models.AbstractModel):
    _name = "psa.importer.employee"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Employees"
    _psa_object_type = "employee"
    _psa_odoo_model = "hr.employee"
    # After departments, before leave and anything else pointing to people.
    _psa_priority = 15
    # legal_entity routes the employee (psa.entity.mapping); ``company`` is informational.
    _psa_entity_routed = True

    def _map_values(self, backend, data):
        values = {"name": data["name"]}
        if "work_email" in data or "email" in data:
            values["work_email"] = data.get("work_email") or data.get("email") or False
        if "job_title" in data:
            values["job_title"] = data["job_title"] or False
        if "department_id" in data or "department" in data:
            values["department_id"] = self._department(backend, data).id
        if "billable" in data:
            values["psa_billable"] = bool(data["billable"])
        if "payroll_id" in data:
            values["psa_payroll_id"] = data["payroll_id"] or False
        if "start_date" in data:
            values["psa_start_date"] = data["start_date"] or False
        # Checked here so a wrong currency stops the event before anything is written.
        self._cost_currency(backend, data)
        return values

    def _department(self, backend, data):
        """The bound department; by name only when the HR system sends no department id."""
        Department = self.env["hr.department"]
        if data.get("department_id"):
            return self._resolve(backend, "department", data["department_id"])
        name = data.get("department")
        if not name:
            return Department
        company = self.env.company
        department = Department.search(
            [("name", "=", name), ("company_id", "in", [False, company.id])], limit=1
        )
        return department or Department.create({"name": name, "company_id": company.id})

    def _cost_currency(self, backend, data):
        company_currency = self.env.company.currency_id
        code = data.get("currency")
        if code and code.upper() != company_currency.name:
            # hourly_cost is read in company currency by timesheets and margins;
            # converting at some rate would be a guess.
            raise PayloadInvalid(
                _(
                    "The hourly cost of %(name)s is in %(currency)s but %(company)s "
                    "keeps costs in %(company_currency)s. Send the cost in "
                    "%(company_currency)s.",
                    name=data.get("name"),
                    currency=code,
                    company=self.env.company.name,
                    company_currency=company_currency.name,
                )
            )
        return company_currency

    def _create_record(self, backend, values, data):
        return self.env["hr.employee"].create({**values, "company_id": self.env.company.id})

    def _match_existing(self, backend, values, data):
        """Never create a second employee for a work e-mail Odoo already has.

        The only safe match is the same person under the same canonical id on another
        backend of the company (e.g. the PSA); anything else is for a person to sort.
        """
        email = values.get("work_email")
        if not email:
            return None
        company = backend.company_id
        candidates = (
            self.env["hr.employee"]
            .with_context(active_test=False)
            .search(
                [
                    ("work_email", "=ilike", escape_psql(email)),
                    ("company_id", "in", [False, self.env.company.id]),
                ]
            )
        )
        if not candidates:
            return None
        same_id = self.env["hr.employee"]._psa_from_external_id(company, data["id"])
        if len(candidates) == 1 and candidates == same_id:
            return candidates
        raise AmbiguousMatch(
            _(
                "Employee %(name)s (%(id)s) has the work e-mail %(email)s, which %(count)s "
                "existing employee(s) already use: %(employees)s. Nothing was created; "
                "correct the e-mail or link the right employee, then retry.",
                name=data.get("name"),
                id=data.get("id"),
                email=email,
                count=len(candidates),
                employees=", ".join(candidates.mapped("display_name")),
            ),
            candidate_ids=candidates.ids,
        )

    def _after_create(self, event, record, data):
        self._apply_lifecycle(event, record, data)

    def _after_update(self, event, record, data, written):
        self._apply_lifecycle(event, record, data)

    def _apply_lifecycle(self, event, employee, data):
        """Manager, cost and employment status: the parts that are more than a write."""
        backend = event.backend_id
        if data.get("manager_id"):
            # Not blocking: a manager often arrives after their team.
            self.env["psa.pending.link"]._set(
                backend, employee, "parent_id", "employee", data["manager_id"]
            )
        elif "manager_id" in data:
            self.env["psa.pending.link"]._forget(employee, "parent_id")
            employee.parent_id = False
        if data.get("hourly_cost") is not None:
            effective_date = self._cost_effective_date(event, data)
            if employee._psa_set_hourly_cost(
                data["hourly_cost"],
                effective_date,
                self._cost_currency(backend, data),
                backend=backend,
            ):
                self._audit(
                    event,
                    "update",
                    str(data["id"]),
                    employee,
                    values={"hourly_cost": data["hourly_cost"], "effective_date": effective_date},
                    message=_("Hourly cost recorded in the cost history."),
                )
        if data.get("status") == "terminated":
            end_date = data.get("end_date") or fields.Date.context_today(self)
            if employee._psa_terminate(fields.Date.to_date(end_date)):
                self._audit(event, "archive", str(data["id"]), employee)
        elif data.get("status") == "active" and not employee.active:
            # Rehired: the same person, the same history.
            employee.with_context(no_wizard=True).action_unarchive()
            self._audit(event, "update", str(data["id"]), employee, values={"active": True})

    def _cost_effective_date(self, event, data):
        if data.get("cost_effective_date"):
            return fields.Date.to_date(data["cost_effective_date"])
        stamp = parse_timestamp(data.get("updated_at"))
        if stamp:
            return stamp.date()
        return (event.occurred_at or fields.Datetime.now()).date()

    def _apply_delete(self, event, binding, record, external_id):
        # A person removed from the HR system has left; their history must stay.
        if not record:
            return "skipped", _("deleted remotely; Odoo holds no record of it")
        if record._psa_terminate(fields.Date.context_today(self)):
            self._audit(event, "archive", external_id, record)
            return "done", _("archived after remote deletion")
        return "skipped", _("already archived")

    def _write_back_refs(self, record):
        return {**super()._write_back_refs(record), "work_email": record.work_email or None}

    # Suggestions for a missing employee -------------------------------------------

    @api.model
    def _suggestion_hints(self, backend, data, referring_data):
        email = data.get("work_email") or data.get("email")
        if not email and "@" in str(data.get("id") or ""):
            # A time entry without an employee id waits for the e-mail it names.
            email = data["id"]
        return {"name": data.get("name"), "email": email, "code": data.get("payroll_id")}

    @api.model
    def _suggestion_values(self, records):
        # Codes are HR or cost data: compared only for a user who may read them.
        code_fields = [
            name
            for name in ("psa_payroll_id", "identification_id", "barcode")
            if records._fields[name].is_accessible(self.env)
        ]
        return {
            employee.id: {
                "name": employee.name,
                "email": employee.work_email,
                "code": next((employee[name] for name in code_fields if employee[name]), None),
            }
            for employee in records
        }
