from odoo import models

ROLE_PREFIX = "role:"
EMPLOYEE_PREFIX = "employee:"


class ProjectProject(models.Model):
    _inherit = "project.project"

    def _psa_role_lines(self):
        """{role name (lower case): sale line} of the project's time-and-materials
        contracts: the rate card's role entries (psa_line_key ``role:<Role>``)."""
        self.ensure_one()
        lines = self.env["sale.order.line"].search(
            [
                ("order_id.psa_project_id", "=", self.id),
                ("order_id.psa_contract_type", "=", "time_and_materials"),
                ("order_id.state", "!=", "cancel"),
                ("psa_line_key", "=like", f"{ROLE_PREFIX}%"),
            ],
            order="id",
        )
        return {line.psa_line_key[len(ROLE_PREFIX) :].strip().lower(): line for line in lines}

    def _psa_map_role_lines(self, employees=None):
        """Price each employee's time at the rate of their role on the rate card.

        An employee whose job position (the HR system's role) is a role of the
        project's rate card gets the role's sale line in the project's employee map. A
        per-person rate card entry (``employee:``) or a line mapped by hand wins; a
        mapping to a role the employee no longer has is removed, so their time goes
        back to the contract's default line. Time not invoiced yet is repriced.

        Runs as whoever triggers it (the contract import as the integration user; a
        role change under sudo, see hr.employee.write); the employees and lines are the
        ones the database links, never ids from a payload.
        """
        Map = self.env["project.sale.line.employee.map"]
        for project in self:
            role_lines = project._psa_role_lines()
            if not role_lines and not project.sale_line_employee_ids:
                continue
            candidates = employees
            if candidates is None:
                candidates = self.env["hr.employee"].search(
                    [
                        ("company_id", "=", project.company_id.id or self.env.company.id),
                        ("job_id", "!=", False),
                    ]
                )
            candidates = candidates.filtered(
                lambda e, p=project: not p.company_id or e.company_id == p.company_id
            )
            touched = self.env["hr.employee"]
            for employee in candidates:
                role = (employee.job_id.name or "").strip().lower()
                line = role_lines.get(role) if employee.active else None
                mapping = project.sale_line_employee_ids.filtered(
                    lambda m, e=employee: m.employee_id == e
                )
                key = mapping.sale_line_id.psa_line_key or ""
                if mapping and not key.startswith(ROLE_PREFIX):
                    # A per-person rate or a hand-made mapping: it decides.
                    continue
                if line and mapping.sale_line_id != line:
                    if mapping:
                        mapping.sale_line_id = line
                    else:
                        Map.create(
                            {
                                "project_id": project.id,
                                "employee_id": employee.id,
                                "sale_line_id": line.id,
                            }
                        )
                    touched |= employee
                elif not line and mapping:
                    mapping.unlink()
                    touched |= employee
            if touched:
                self.env["account.analytic.line"].search(
                    [
                        ("project_id", "=", project.id),
                        ("employee_id", "in", touched.ids),
                        ("timesheet_invoice_id", "=", False),
                    ]
                )._compute_so_line()
