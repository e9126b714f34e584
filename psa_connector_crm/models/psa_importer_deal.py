from odoo import _, models

from odoo.addons.psa_connector_base.tools.errors import PayloadInvalid


class PsaImporterDeal(models.AbstractModel):
    """A CRM backend's deal (HubSpot...) as an Odoo opportunity.

    A deal reaching one of the backend's won stages becomes a won opportunity
    (``crm.lead``) of its customer, bound to the deal, so a webhook and a pull of the
    same deal give one opportunity. Its company and contacts come in first through the
    customer and contact importers (matched, bound, never guessed). A deal not won that
    Odoo does not hold yet is skipped: Odoo's CRM receives what was won.
    """

    _name = "psa.importer.deal"
    _inherit = "psa.importer"
    _description = "PSA Connector Importer: CRM deals"
    _psa_object_type = "deal"
    _psa_priority = 20
    _psa_odoo_model = "crm.lead"
    # The CRM keeps no foreign key for Odoo's opportunity: the binding is the link.
    _psa_write_back = False
    _psa_company_from = (("customer", "customer_id"),)

    def _must_skip(self, event, action, data):
        backend = event.backend_id
        if action == "deleted":
            return "skipped", _("Deal deleted in %s; Odoo keeps its opportunity.", backend.name)
        bound = self.env["psa.binding"]._find_record(backend, "deal", str(data.get("id")))
        if not bound and not backend._psa_deal_is_won(data):
            return "skipped", _(
                "Deal %(id)s is at stage %(stage)r, not a won stage of %(backend)s: "
                "nothing to create.",
                id=data.get("id"),
                stage=data.get("stage"),
                backend=backend.name,
            )
        return None

    def _before_import(self, event, action, data):
        """The deal's company and contacts, through their own importers."""
        customer = data.get("customer")
        if not isinstance(customer, dict):
            raise PayloadInvalid(
                _("Deal %s has no company: a won deal needs its customer.", data.get("id"))
            )
        self.env["psa.importer.customer"]._import(event, "updated", customer)
        for contact in data.get("contacts") or []:
            if isinstance(contact, dict):
                self.env["psa.importer.contact"]._import(event, "updated", contact)

    def _map_values(self, backend, data):
        customer = self._resolve(backend, "customer", data["customer"]["id"])
        values = {
            "type": "opportunity",
            "name": data["name"],
            "partner_id": customer.id,
        }
        if "amount" in data:
            values["expected_revenue"] = data["amount"] or 0.0
        if "close_date" in data:
            values["date_deadline"] = data["close_date"] or False
        if "description" in data:
            values["description"] = data["description"] or False
        contacts = [c for c in data.get("contacts") or [] if isinstance(c, dict)]
        if contacts:
            first = contacts[0]
            values["contact_name"] = first.get("name") or False
            if first.get("email"):
                values["email_from"] = first["email"]
        values.update(self._engagement_values(backend, data))
        return values

    def _engagement_values(self, backend, data):
        """The engagement template (the deal's ``psa_engagement_template`` property, a
        template code of the company) and start date: what the won opportunity becomes
        on the PSA (``crm.lead._psa_queue_engagement``)."""
        values = {}
        code = data.get("engagement_template")
        if code:
            template = self.env["psa.engagement.template"].search(
                [("code", "=", code), ("company_id", "=", self.env.company.id)], limit=1
            )
            if not template:
                raise PayloadInvalid(
                    _(
                        "Deal %(id)s names engagement template %(code)r, which %(company)s "
                        "does not have; create it (or correct the deal) and retry.",
                        id=data.get("id"),
                        code=code,
                        company=self.env.company.name,
                    )
                )
            values["psa_engagement_template_id"] = template.id
        if data.get("engagement_start_date"):
            values["psa_engagement_start_date"] = data["engagement_start_date"]
        return values

    def _create_record(self, backend, values, data):
        return self.env["crm.lead"].create({**values, "company_id": self.env.company.id})

    def _after_create(self, event, record, data):
        self._mark_won(event.backend_id, record, data)

    def _after_update(self, event, record, data, written):
        self._mark_won(event.backend_id, record, data)

    def _mark_won(self, backend, lead, data):
        """A deal at a won stage wins its opportunity, once, through Odoo's own workflow
        (``action_set_won``: what starts the engagement); never un-won from here."""
        if backend._psa_deal_is_won(data) and not lead.stage_id.is_won:
            lead.action_set_won()
