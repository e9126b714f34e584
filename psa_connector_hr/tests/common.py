from odoo.addons.psa_connector_base.tests.common import PsaTransactionCase


class HrSyncCase(PsaTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls._create_backend(code="hr-test", kind="hr", name="Test HR")
        cls.backend.company_id.currency_id = cls.env.ref("base.EUR")


def department_data(**overrides):
    return {
        "id": "D-1",
        "name": "Delivery",
        "manager_id": None,
        "parent_id": None,
        "updated_at": "2026-10-01T08:00:00Z",
        "version": 1,
        **overrides,
    }


def employee_data(**overrides):
    return {
        "id": "E-4001",
        "name": "Anna Schmidt",
        "email": "anna.schmidt@consultancy.example",
        "work_email": "anna.schmidt@consultancy.example",
        "job_title": "Managing Consultant",
        "department_id": "D-1",
        "department": "Delivery",
        "manager_id": None,
        "hourly_cost": 85.0,
        "currency": "EUR",
        "billable": True,
        "start_date": "2019-04-01",
        "end_date": None,
        "status": "active",
        "updated_at": "2026-11-01T09:00:00Z",
        "version": 1,
        **overrides,
    }


def leave_data(**overrides):
    return {
        "id": "L-1",
        "employee_id": "E-4001",
        "date_from": "2026-12-21",
        "date_to": "2026-12-23",
        "leave_type": "vacation",
        "hours": 24.0,
        "state": "approved",
        "updated_at": "2026-11-10T09:00:00Z",
        "version": 1,
        **overrides,
    }
