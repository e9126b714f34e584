from odoo import models


class PsaImporterContract(models.AbstractModel):
    _inherit = "psa.importer.contract"

    def _link_project(self, order, project, plan):
        result = super()._link_project(order, project, plan)
        if order.psa_contract_type == "time_and_materials" and project:
            # The rate card's roles price the people who hold them (the HR system's role).
            project._psa_map_role_lines()
        return result
