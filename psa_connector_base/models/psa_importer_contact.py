from odoo import models


class PsaImporterContact(models.AbstractModel):
    _name = "psa.importer.contact"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Contacts"
    _psa_object_type = "contact"
    _psa_priority = 15
    _psa_odoo_model = "res.partner"
    _psa_company_from = (("customer", "customer_id"),)

    def _map_values(self, backend, data):
        company = self._resolve(backend, "customer", data["customer_id"])
        values = {"parent_id": company.id, "is_company": False, "type": "contact"}
        for canonical, odoo in (
            ("name", "name"),
            ("email", "email"),
            ("phone", "phone"),
            ("job_title", "function"),
        ):
            if canonical in data:
                values[odoo] = data[canonical] or False
        return values

    def _create_record(self, backend, values, data):
        # A contact is in its customer's company (none for a shared customer).
        parent = self.env["res.partner"].browse(values["parent_id"])
        return self.env["res.partner"].create({**values, "company_id": parent.company_id.id})
