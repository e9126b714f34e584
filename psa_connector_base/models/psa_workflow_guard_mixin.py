from odoo import _, api, models
from odoo.exceptions import AccessError

from ..tools.access import in_workflow


class PsaWorkflowGuardMixin(models.AbstractModel):
    """Fields that belong to a workflow change only through the workflow's methods.

    A model inherits this mixin and names the fields in ``_psa_workflow_fields``. Outside
    ``tools.access.workflow_write()`` (and ``sudo()``), ``create`` may give such a field
    only its default (or an empty value), and ``write`` may not touch it at all, whatever
    the access rights say. This is the control; the view's ``readonly`` is presentation.
    """

    _name = "psa.workflow.guard.mixin"
    _description = "PSA Connector Workflow Field Guard"

    _psa_workflow_fields = ()

    def _psa_workflow_locked(self):
        return bool(self._psa_workflow_fields) and not (self.env.su or in_workflow())

    def _psa_refuse_workflow_fields(self, names):
        fields_ = ", ".join(
            self._fields[name]._description_string(self.env) for name in sorted(names)
        )
        raise AccessError(
            _(
                "%(model)s: %(fields)s can only be changed by the workflow's own actions.",
                model=self._description,
                fields=fields_,
            )
        )

    @api.model_create_multi
    def create(self, vals_list):
        if self._psa_workflow_locked():
            guarded = set(self._psa_workflow_fields)
            # A ``default_<field>`` context key is the caller's value, not the model's
            # default (it travels over RPC): drop it for guarded fields.
            self = self.with_context(
                {
                    key: value
                    for key, value in self.env.context.items()
                    if not (key.startswith("default_") and key[len("default_") :] in guarded)
                }
            )
            defaults = self.default_get(list(guarded))
            refused = set()
            for vals in vals_list:
                for name in guarded.intersection(vals):
                    value = vals[name]
                    if value in (False, None, "", 0, []) or value == defaults.get(name):
                        continue
                    refused.add(name)
            if refused:
                self._psa_refuse_workflow_fields(refused)
        return super().create(vals_list)

    def write(self, vals):
        if self._psa_workflow_locked():
            refused = set(self._psa_workflow_fields).intersection(vals)
            if refused:
                self._psa_refuse_workflow_fields(refused)
        return super().write(vals)
