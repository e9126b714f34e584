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
        # Role, skills and cost centre are applied after the write (_apply_attributes),
        # in the employee's own company; their shape is checked here, before anything.
        self._check_attributes(data)
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

    def _cost_currency(self, backend, data, company=None):
        """The currency of ``hourly_cost``: the one sent, else the company's.

        A cost may be in another currency than the company's (people paid in theirs):
        the cost history keeps it, margins convert it at the date of the work. The
        currency must be active and have rates: a margin converted 1:1 would be wrong
        without anyone noticing.
        """
        company = company or self.env.company
        company_currency = company.currency_id
        code = (data.get("currency") or "").strip().upper()
        if not code or code == company_currency.name:
            return company_currency
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", code)], limit=1)
        )
        has_rates = currency.active and self.env["res.currency.rate"].search_count(
            [
                ("currency_id", "=", currency.id),
                ("company_id", "in", [False, company.root_id.id]),
            ],
            limit=1,
        )
        if not has_rates:
            raise PayloadInvalid(
                _(
                    "The hourly cost of %(name)s is in %(currency)s, for which Odoo has no "
                    "exchange rates (the currency is unknown, inactive or has no rate). "
                    "Activate it and record its rates, or send the cost in "
                    "%(company_currency)s.",
                    name=data.get("name"),
                    currency=code,
                    company_currency=company_currency.name,
                )
            )
        return currency

    def _check_attributes(self, data):
        skills = data.get("skills")
        if skills is not None and (
            not isinstance(skills, list)
            or not all(
                isinstance(item, dict)
                and isinstance(item.get("type"), str)
                and item["type"].strip()
                and isinstance(item.get("name"), str)
                and item["name"].strip()
                and (item.get("level") is None or isinstance(item["level"], str))
                for item in skills
            )
        ):
            raise PayloadInvalid(
                _("skills must be a list of {type, name, level} with a type and a name.")
            )
        for key in ("role", "cost_centre", "cost_centre_name"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise PayloadInvalid(_("%s must be a text.", key))

    def _apply_attributes(self, event, employee, data):
        """Role (job position), skills and cost centre, in the employee's company."""
        if "role" in data:
            employee._psa_set_role(data["role"])
            # The title follows the role unless the HR system sends its own.
            title = data.get("job_title") or data["role"] or False
            if ("job_title" in data or data["role"]) and employee.job_title != title:
                employee.job_title = title
        if "skills" in data:
            employee._psa_set_skills(
                [
                    {**item, "type": item["type"].strip(), "name": item["name"].strip()}
                    for item in data["skills"] or []
                ]
            )
        if "cost_centre" in data:
            employee._psa_set_cost_centre(
                (data["cost_centre"] or "").strip(), (data.get("cost_centre_name") or "").strip()
            )

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
        self._apply_attributes(event, employee, data)
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
                self._cost_currency(backend, data, employee.company_id),
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
            if employee._psa_terminate(fields.Date.to_date(end_date), backend=backend):
                self._audit(event, "archive", str(data["id"]), employee)
        elif data.get("status") == "active" and not employee.active:
            # Rehired: the same person, the same history.
            employee._psa_rehire()
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
        if record._psa_terminate(fields.Date.context_today(self), backend=event.backend_id):
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
