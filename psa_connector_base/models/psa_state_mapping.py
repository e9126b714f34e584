from odoo import api, fields, models

TASK_STATES = [
    ("01_in_progress", "In Progress"),
    ("02_changes_requested", "Changes Requested"),
    ("03_approved", "Approved"),
    ("04_waiting_normal", "Waiting"),
    ("1_done", "Done"),
    ("1_canceled", "Cancelled"),
]

# (object type, external state) -> (project stage xml id, task state, active)
DEFAULT_MAPPINGS = [
    ("project", "draft", "project.project_project_stage_0", None, True),
    ("project", "approved", "project.project_project_stage_0", None, True),
    ("project", "active", "project.project_project_stage_1", None, True),
    ("project", "on_hold", "project.project_project_stage_1", None, True),
    ("project", "closed", "project.project_project_stage_2", None, True),
    ("project", "cancelled", "project.project_project_stage_3", None, False),
    ("task", "open", None, "01_in_progress", True),
    ("task", "in_progress", None, "01_in_progress", True),
    ("task", "waiting", None, "04_waiting_normal", True),
    ("task", "done", None, "1_done", True),
    ("task", "cancelled", None, "1_canceled", True),
]


class PsaStateMapping(models.Model):
    """External lifecycle states mapped to Odoo's, per backend."""

    _name = "psa.state.mapping"
    _description = "PSA Connector State Mapping"
    _order = "backend_id, object_type, sequence, id"

    backend_id = fields.Many2one("psa.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    object_type = fields.Selection([("project", "Project"), ("task", "Task")], required=True)
    external_state = fields.Char(required=True)
    project_stage_id = fields.Many2one("project.project.stage", ondelete="restrict")
    task_state = fields.Selection(TASK_STATES)
    set_active = fields.Boolean(
        string="Keep active", default=True, help="Unticked: the record is archived."
    )

    _sql_constraints = [
        (
            "mapping_unique",
            "unique(backend_id, object_type, external_state)",
            "An external state is mapped once per object type.",
        ),
    ]

    @api.model
    def _create_defaults(self, backend):
        rows = []
        for sequence, (object_type, state, stage_xmlid, task_state, active) in enumerate(
            DEFAULT_MAPPINGS
        ):
            stage = self.env.ref(stage_xmlid, raise_if_not_found=False) if stage_xmlid else None
            rows.append(
                {
                    "backend_id": backend.id,
                    "sequence": sequence,
                    "object_type": object_type,
                    "external_state": state,
                    "project_stage_id": stage.id if stage else False,
                    "task_state": task_state or False,
                    "set_active": active,
                }
            )
        self.create(rows)

    @api.model
    def _lookup(self, backend, object_type, external_state):
        if not external_state:
            return self.browse()
        return self.search(
            [
                ("backend_id", "=", backend.id),
                ("object_type", "=", object_type),
                ("external_state", "=", external_state),
            ],
            limit=1,
        )
