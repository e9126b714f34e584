from odoo import _, api, fields, models

from ..tools.access import MANAGER, check_group

AUDITED_FIELDS = ("object_type", "approval_required", "active")
# Money and pay: covered in every company that has no rule of its own for the type.
DEFAULT_TYPES = frozenset(
    {"time_entry", "billing_event", "expense", "vendor_bill", "payroll_batch"}
)


class PsaFourEyesRule(models.Model):
    """Which edited payloads need a second Connector Manager before they are replayed.

    Money and pay (time entries, billing events, expenses, vendor bills, payroll
    batches) are covered out of the box. A Connector Manager may switch a type off or
    cover another one; every change is written to the audit log.
    """

    _name = "psa.four.eyes.rule"
    _description = "PSA Connector Four-Eyes Rule for Edited Payloads"
    _order = "object_type"

    object_type = fields.Char(
        required=True,
        index=True,
        help="The object type of the exceptions the rule covers, as the importers name "
        "it (e.g. time_entry, billing_event, expense, vendor_bill, payroll_batch).",
    )
    name = fields.Char(string="Description", translate=True)
    approval_required = fields.Boolean(
        string="Second approval required",
        default=True,
        help="An edited payload of this type is replayed only after another Connector "
        "Manager than its editor approved it.",
    )
    active = fields.Boolean(default=True)
    # Per company: a Connector Manager of one company must not switch off the second
    # approval another company's finance relies on.
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
        help="The company whose exceptions the rule covers.",
    )

    _sql_constraints = [
        (
            "object_type_uniq",
            "unique(company_id, object_type)",
            "There is already a four-eyes rule for this object type in this company.",
        )
    ]

    @api.model
    def _approval_required(self, object_type, company=None):
        """Whether an edited payload of ``object_type`` needs a second manager.

        The company's own rule decides (an archived one counts as switched off); a
        company without a rule for the type falls back to the defaults (money and pay).
        """
        if not object_type:
            return False
        company = company or self.env.company
        # sudo: reading configuration to decide a control; the caller may not see rules.
        rule = (
            self.sudo()
            .with_context(active_test=False)
            .search([("object_type", "=", object_type), ("company_id", "=", company.id)], limit=1)
        )
        if rule:
            return rule.active and rule.approval_required
        return object_type in DEFAULT_TYPES

    def _audit_snapshot(self):
        return {rule.id: {name: rule[name] for name in AUDITED_FIELDS} for rule in self}

    def _audit_change(self, action, before, after):
        if not self.env.registry.ready:
            # The rules the module itself loads at install are in its data file, not a
            # person's decision (and not a context key anyone could send).
            return
        AuditLog = self.env["psa.audit.log"]
        for rule_id in sorted(set(before) | set(after)):
            old, new = before.get(rule_id), after.get(rule_id)
            if old == new:
                continue
            object_type = (new or old)["object_type"]
            AuditLog._log(
                False,
                "internal",
                "rule_change",
                object_type=object_type,
                res_model=self._name,
                res_id=rule_id,
                message=_(
                    "Four-eyes rule for %(type)s %(action)s by %(user)s",
                    type=object_type,
                    action=action,
                    user=self.env.user.name,
                ),
                values={"before": old, "after": new},
            )

    @api.model_create_multi
    def create(self, vals_list):
        check_group(self.env, MANAGER)
        rules = super().create(vals_list)
        rules._audit_change(_("created"), {}, rules._audit_snapshot())
        return rules

    def write(self, vals):
        check_group(self.env, MANAGER)
        before = self._audit_snapshot()
        result = super().write(vals)
        self._audit_change(_("changed"), before, self._audit_snapshot())
        return result

    def unlink(self):
        check_group(self.env, MANAGER)
        self._audit_change(_("deleted"), self._audit_snapshot(), {})
        return super().unlink()
