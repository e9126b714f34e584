from odoo.addons.psa_connector_timesheet.tests.common import TimesheetCase


def contract_data(**overrides):
    return {
        "id": "K-1",
        "project_id": "P-1",
        "customer_id": "C-1",
        "name": "ERP rollout T&M",
        "type": "time_and_materials",
        "currency": "EUR",
        "rate_card": [
            {"role": "Consultant", "hourly_rate": 150.0, "default": True},
            {"role": "Architect", "hourly_rate": 210.0},
            {"employee_id": "E-1", "hourly_rate": 190.0},
        ],
        "expense_policy": "cost",
        "updated_at": "2026-11-02T09:00:00Z",
        "version": 1,
        **overrides,
    }


def milestone_contract(**overrides):
    values = {
        "id": "K-2",
        "type": "milestone",
        "currency": "USD",
        "rate_card": None,
        "milestones": [
            {"id": "M-1", "name": "Discovery report", "amount": 18000.0},
            {"id": "M-2", "name": "Dashboards live", "amount": 42000.0},
        ],
        **overrides,
    }
    return contract_data(**values)


def billing_event_data(**overrides):
    return {
        "id": "BE-1",
        "contract_id": "K-2",
        "kind": "milestone.accepted",
        "milestone_id": "M-1",
        "updated_at": "2026-11-20T09:00:00Z",
        **overrides,
    }


class BillingCase(TimesheetCase):
    """TimesheetCase (customer, project, task, bound employee) with billing helpers."""

    def order(self, contract_id="K-2"):
        return self.bound("contract", contract_id)

    def invoice_lines(self, order):
        return order.order_line.invoice_lines.filtered(lambda line: line.move_id.state != "cancel")
