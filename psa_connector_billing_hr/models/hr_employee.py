from odoo import models

from .project_project import ROLE_PREFIX


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    def write(self, vals):
        before = {e.id: e.job_id for e in self} if "job_id" in vals else {}
        result = super().write(vals)
        changed = self.filtered(lambda e: e.id in before and before[e.id] != e.job_id)
        if changed:
            changed._psa_remap_role_rates(list(before.values()))
        return result

    def _psa_remap_role_rates(self, old_jobs):
        """A new role reprices the person's time on the projects whose rate card has
        the old or the new role.

        sudo: an HR officer changing a job position may not edit project rate mappings;
        what is written is decided here (the employees just written, the sale lines the
        contracts hold), nothing comes from the caller.
        """
        employees = self.sudo()
        names = {
            name.strip().lower()
            for name in employees.job_id.mapped("name")
            + [job.sudo().name for job in old_jobs if job]
            if name
        }
        if not names:
            return
        lines = (
            self.env["sale.order.line"]
            .sudo()
            .search(
                [
                    ("order_id.psa_contract_type", "=", "time_and_materials"),
                    ("order_id.state", "!=", "cancel"),
                    ("order_id.psa_project_id", "!=", False),
                    ("psa_line_key", "=like", f"{ROLE_PREFIX}%"),
                ]
            )
        )
        projects = lines.filtered(
            lambda line: line.psa_line_key[len(ROLE_PREFIX) :].strip().lower() in names
        ).order_id.psa_project_id
        projects._psa_map_role_lines(employees)
