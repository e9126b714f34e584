from . import adapters, controllers, models, tools, wizards


def post_load():
    """Put the webhook fast intake in front of Odoo's WSGI application; see
    ``tools/webhook_intake.py``."""
    tools.webhook_intake.install()
