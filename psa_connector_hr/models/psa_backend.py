from odoo import models


class PsaBackend(models.Model):
    _inherit = "psa.backend"

    def _pull_object_types(self):
        types = super()._pull_object_types()
        if self.kind == "hr":
            # Departments first: employees point to them; leave points to employees.
            types += ["department", "employee", "leave"]
        return types
