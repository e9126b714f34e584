from . import adapters, controllers, models, tools, wizards
from .hooks import post_init_hook


def post_load():
    """Put the webhook fast intake in front of Odoo's WSGI application
    (``tools/webhook_intake.py``) and let the job runner notice dead jobs sooner
    (``tools/job_runner.py``)."""
    tools.webhook_intake.install()
    tools.job_runner.install()
