from odoo import _, api, models

from ..tools.errors import AmbiguousMatch


class PsaImporterCustomer(models.AbstractModel):
    _name = "psa.importer.customer"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: Customers"
    _psa_object_type = "customer"
    _psa_priority = 10
    _psa_odoo_model = "res.partner"
    _psa_entity_routed = True

    SIMPLE_FIELDS = {
        "name": "name",
        "vat": "vat",
        "ref": "ref",
        "email": "email",
        "phone": "phone",
        "website": "website",
        "street": "street",
        "city": "city",
        "zip": "zip",
    }

    def _map_values(self, backend, data):
        values = {"is_company": data.get("is_company", True)}
        for canonical, odoo in self.SIMPLE_FIELDS.items():
            if canonical in data:
                values[odoo] = data[canonical] or False
        if "country_code" in data:
            country = self.env["res.country"].search(
                [("code", "=", (data["country_code"] or "").upper())], limit=1
            )
            values["country_id"] = country.id or False
        return values

    def _create_record(self, backend, values, data):
        # In the routed company (legal_entity, else the backend's); shared once records of
        # another company use it (psa.importer._share_partner).
        return self.env["res.partner"].create({**values, "company_id": self.env.company.id})

    # Matching before creating -----------------------------------------------------

    def _match_existing(self, backend, values, data):
        """An existing partner found by the backend's keys, or None; never a guess."""
        for key, domain in self._match_domains(backend, data):
            candidates = self.env["res.partner"].search(
                [
                    *domain,
                    ("company_id", "in", [False, self.env.company.id]),
                    ("parent_id", "=", False),
                ],
                limit=10,
            )
            if not candidates:
                continue
            bound = self.env["psa.binding"]._external_ids_of(backend, "customer", candidates)
            if len(candidates) > 1 or bound:
                raise AmbiguousMatch(
                    _(
                        "Customer %(name)s (%(id)s) matches %(count)s existing partner(s) by "
                        "%(key)s: %(partners)s. Nothing was created; merge the partners or "
                        "link the right one, then retry.",
                        name=data.get("name"),
                        id=data.get("id"),
                        count=len(candidates),
                        key=key,
                        partners=", ".join(candidates.mapped("display_name")),
                    ),
                    candidate_ids=candidates.ids,
                    already_bound=bound,
                )
            return candidates
        return self.env["res.partner"].browse()

    @api.model
    def _match_domains(self, backend, data):
        if backend.match_partner_by_vat and data.get("vat"):
            yield "VAT", [("vat", "=ilike", data["vat"].replace(" ", ""))]
        if backend.match_partner_by_ref and data.get("ref"):
            yield "reference", [("ref", "=", data["ref"])]
        email = data.get("email") or ""
        if backend.match_partner_by_email_domain and "@" in email:
            yield "e-mail domain", [("email", "=ilike", "%@" + email.rsplit("@", 1)[1])]

    def _write_back_refs(self, record):
        return {**super()._write_back_refs(record), "ref": record.ref or None}

    # Suggestions for a missing customer -------------------------------------------

    @api.model
    def _suggestion_hints(self, backend, data, referring_data):
        return {
            "name": data.get("name"),
            "code": data.get("ref"),
            "email": data.get("email"),
            "vat": data.get("vat"),
        }

    @api.model
    def _suggestion_domain(self, backend, hints):
        # Customers are companies or people, never a contact of one (as _match_existing).
        return [*super()._suggestion_domain(backend, hints), ("parent_id", "=", False)]

    @api.model
    def _suggestion_values(self, records):
        return {
            partner.id: {
                "name": partner.name,
                "code": partner.ref,
                "email": partner.email,
                "vat": partner.vat,
            }
            for partner in records
        }
