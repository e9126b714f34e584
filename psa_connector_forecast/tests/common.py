import json
import uuid
from datetime import date, datetime

from odoo.addons.psa_connector_base.tests.common import (
    PsaTransactionCase,
    customer_data,
    project_data,
)

# A week with a public holiday on Wednesday: the figures of the tests are computed by
# hand on it (standard 40 h schedule: 8 h a day).
MONDAY = date(2026, 11, 16)
HOLIDAY = date(2026, 11, 18)


def allocation_data(**overrides):
    return {
        "id": "A-1",
        "employee_id": "E-1",
        "project_id": "P-1",
        "start_date": "2026-11-02",
        "end_date": "2026-11-13",
        "hours_per_day": 6.0,
        "role": "ERP Developer",
        "status": "confirmed",
        "updated_at": "2026-11-01T09:00:00Z",
        "version": 1,
        **overrides,
    }


class ForecastCase(PsaTransactionCase):
    """A PSA backend with two projects, a forecasting backend, and three employees
    on a standard 40 h schedule (UTC), bound to canonical ids E-1..E-3."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.backend.company_id
        for event_type, data in (
            ("customer.created", customer_data()),
            ("project.created", project_data()),
            ("project.created", project_data(id="P-2", code="NW-BI-26", name="BI platform")),
        ):
            cls._apply_cls(cls.backend, event_type, data)
        cls.project = cls._bound_cls(cls.backend, "project", "P-1")
        cls.project_2 = cls._bound_cls(cls.backend, "project", "P-2")
        cls.forecast = cls._create_backend(code="fc-test", kind="forecast", name="Test forecast")
        cls.calendar = cls.env["resource.calendar"].create(
            {"name": "Standard 40 hours", "tz": "UTC", "company_id": cls.company.id}
        )
        cls.anna, cls.ben, cls.carla = cls.employees = cls.env["hr.employee"].create(
            [
                {
                    "name": name,
                    "work_email": f"{name.lower()}@consultancy.example",
                    "resource_calendar_id": cls.calendar.id,
                    "tz": "UTC",
                    "company_id": cls.company.id,
                }
                for name in ("Anna", "Ben", "Carla")
            ]
        )
        cls.env["psa.binding"].create(
            [
                {
                    "backend_id": cls.backend.id,
                    "external_type": "employee",
                    "external_id": f"E-{index}",
                    "res_model": "hr.employee",
                    "res_id": employee.id,
                }
                for index, employee in enumerate(cls.employees, start=1)
            ]
        )

    @classmethod
    def _apply_cls(cls, backend, event_type, data):
        envelope = {
            "id": uuid.uuid4().hex,
            "type": event_type,
            "occurred_at": "2026-11-20T10:00:00Z",
            "data": data,
        }
        event, _new = cls.env["psa.event"]._receive_webhook(
            backend, envelope, json.dumps(envelope).encode()
        )
        event._process_job()
        assert event.state == "done", event.result

    @classmethod
    def _bound_cls(cls, backend, object_type, external_id):
        return cls.env["psa.binding"]._find_record(backend, object_type, external_id)

    def apply(self, event_type, data, event_id=None, backend=None):
        event = self.receive(event_type, data, event_id=event_id, backend=backend or self.forecast)
        self.run_jobs(methods=("_process_job",))
        return event

    def allocation(self, external_id="A-1"):
        return self.bound("allocation", external_id, backend=self.forecast)

    def add_public_holiday(self, day=HOLIDAY):
        return self.env["resource.calendar.leaves"].create(
            {
                "name": "Public holiday",
                "calendar_id": self.calendar.id,
                "company_id": self.company.id,
                "date_from": datetime.combine(day, datetime.min.time()),
                "date_to": datetime.combine(day, datetime.max.time().replace(microsecond=0)),
            }
        )

    def add_leave(self, employee, date_from, date_to=None):
        """Approved time off, as the HR connector writes it: of a type that needs
        neither an allocation nor an approval in Odoo."""
        leave_type = (
            self.env["hr.leave.type"]
            .sudo()
            .create(
                {
                    "name": "Vacation",
                    "company_id": self.company.id,
                    "requires_allocation": "no",
                    "leave_validation_type": "no_validation",
                    "request_unit": "day",
                    "time_type": "leave",
                }
            )
        )
        leave = (
            self.env["hr.leave"]
            .sudo()
            .create(
                {
                    "employee_id": employee.id,
                    "holiday_status_id": leave_type.id,
                    "request_date_from": date_from,
                    "request_date_to": date_to or date_from,
                }
            )
        )
        if leave.state != "validate":
            leave.action_validate()
        return leave

    def add_time(self, employee, project, day, hours, billable=True):
        return self.env["account.analytic.line"].create(
            {
                "name": "/",
                "employee_id": employee.id,
                "project_id": project.id,
                "date": day,
                "unit_amount": hours,
                "psa_billable": billable,
            }
        )

    def end_transaction(self):
        """What commit does before committing: flush and run the precommit hooks."""
        self.env.cr.flush()
