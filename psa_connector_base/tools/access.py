"""Server-side controls shared by every connector model.

Two primitives, so that each rule is written once:

- ``check_group(env, *xmlids)`` / ``@requires_group(*xmlids)``: a public method refuses
  a caller who holds none of the groups, or who may not read the records it is called
  on, whatever the view shows. The superuser and the code paths that already run under
  ``sudo()`` pass.
- Workflow fields: a model lists them in ``_psa_workflow_fields`` (see
  ``psa.workflow.guard.mixin``); they change only inside ``workflow_write()``, which only
  Python code can open. Nothing reachable over JSON-RPC (a context key, a field value)
  can open it, so a user whose ACL allows ``write`` still cannot set a state, an
  approver, a payload or a link by hand.
"""

import contextvars
import functools
from contextlib import contextmanager

from odoo import _
from odoo.exceptions import AccessError

# Depth of nested workflow_write() blocks in this thread/task. A ContextVar, not a
# context key: the ORM context travels over RPC, Python state does not.
_WORKFLOW_DEPTH = contextvars.ContextVar("psa_connector_workflow_depth", default=0)

MANAGER = "psa_connector_base.group_connector_manager"
USER = "psa_connector_base.group_connector_user"


@contextmanager
def workflow_write():
    """Let the enclosed code write workflow fields (a workflow method's own writes)."""
    token = _WORKFLOW_DEPTH.set(_WORKFLOW_DEPTH.get() + 1)
    try:
        yield
    finally:
        _WORKFLOW_DEPTH.reset(token)


def in_workflow():
    return _WORKFLOW_DEPTH.get() > 0


def has_any_group(env, *xmlids):
    if env.su:
        return True
    user = env.user
    return any(user.has_group(xmlid) for xmlid in xmlids)


def check_group(env, *xmlids, message=None):
    """Raise AccessError unless the caller holds one of the groups (or runs as sudo)."""
    if has_any_group(env, *xmlids):
        return
    names = ", ".join(
        group.full_name
        for group in (env.ref(xmlid, raise_if_not_found=False) for xmlid in xmlids)
        if group
    )
    raise AccessError(message or _("This action requires one of these groups: %s", names))


def requires_group(*xmlids):
    """Method decorator: the caller must hold one of ``xmlids`` (checked on the server)."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            check_group(self.env, *xmlids)
            if self and not self.env.su:
                # The group is not enough: the records must be ones the caller may read
                # (record rules, e.g. another company's backend reached by its id over
                # RPC), or the method would act on them.
                self.check_access("read")
            return method(self, *args, **kwargs)

        wrapper._psa_required_groups = xmlids
        return wrapper

    return decorate
