from . import adapters, controllers, models, tools, wizards


def uninstall_hook(env):
    """Drop the connector's queued jobs: every one runs a method of a psa.* model, and
    those models go with this addon (queue_job keeps jobs of removed models otherwise)."""
    env["queue.job"].sudo().with_context(active_test=False).search(
        [("model_name", "=like", "psa.%")]
    ).unlink()
