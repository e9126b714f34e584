from odoo import Command

from odoo.addons.psa_connector_base.tests.common import (
    PsaTransactionCase,
    customer_data,
    project_data,
    task_data,
)


def time_entry_data(**overrides):
    return {
        "id": "TE-1",
        "project_id": "P-1",
        "task_id": "T-1",
        "employee_id": "E-1",
        "employee_email": "anna.schmidt@consultancy.example",
        "date": "2026-11-16",
        "hours": 6.5,
        "description": "Mapping workshop",
        "billable": True,
        "state": "approved",
        "updated_at": "2026-11-17T08:00:00Z",
        "version": 1,
        **overrides,
    }


class TimesheetCase(PsaTransactionCase):
    """A backend with a customer, project and task applied, and an employee bound."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for event_type, data in (
            ("customer.created", customer_data()),
            ("project.created", project_data()),
            ("task.created", task_data()),
        ):
            assert cls.apply(event_type, data).state == "done"
        cls.project = cls.bound("project", "P-1")
        cls.task = cls.bound("task", "T-1")
        cls.anna = cls.env["hr.employee"].create(
            {"name": "Anna Schmidt", "work_email": "Anna.Schmidt@consultancy.example"}
        )
        cls.env["psa.binding"].create(
            {
                "backend_id": cls.backend.id,
                "external_type": "employee",
                "external_id": "E-1",
                "res_model": "hr.employee",
                "res_id": cls.anna.id,
            }
        )

    def line(self, external_id="TE-1"):
        return self.bound("time_entry", external_id)

    def invoice_project_time(self):
        """Sell the project's time, invoice the delivered hours and post the invoice."""
        product = self.env["product.product"].create(
            {
                "name": "Consulting hour",
                "type": "service",
                "service_type": "timesheet",
                "invoice_policy": "delivery",
                "list_price": 150.0,
                "uom_id": self.env.ref("uom.product_uom_hour").id,
                "uom_po_id": self.env.ref("uom.product_uom_hour").id,
            }
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": self.project.partner_id.id,
                "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 100})],
            }
        )
        order.action_confirm()
        self.project.write({"allow_billable": True, "sale_line_id": order.order_line.id})
        self.env["account.analytic.line"].search(
            [("project_id", "=", self.project.id)]
        )._compute_so_line()
        invoice = order._create_invoices()
        invoice.action_post()
        return invoice
