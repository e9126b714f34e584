from unittest.mock import patch

from odoo.tests import BaseCase, tagged
from odoo.tools import config

from odoo.addons.queue_job.jobrunner import runner

from ..tools import job_runner


@tagged("post_install", "-at_install")
class TestJobRunnerPoll(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.timeout_as_loaded = runner.SELECT_TIMEOUT

    def setUp(self):
        super().setUp()
        patcher = patch.object(runner, "SELECT_TIMEOUT", 60)
        patcher.start()
        self.addCleanup(patcher.stop)

    def install_with(self, value):
        with patch.dict(config.options, {"psa_connector_job_runner_poll": value}):
            job_runner.install()
        return runner.SELECT_TIMEOUT

    def test_loading_the_module_put_the_default_in_force(self):
        # post_load (or _register_hook, under pytest-odoo) ran in this process: a runner
        # forked from it wakes every 10 s, not 60.
        self.assertEqual(self.timeout_as_loaded, job_runner.DEFAULT_POLL_SECONDS)

    def test_unset_means_the_default(self):
        with patch.dict(config.options):
            config.options.pop("psa_connector_job_runner_poll", None)
            job_runner.install()
        self.assertEqual(runner.SELECT_TIMEOUT, job_runner.DEFAULT_POLL_SECONDS)

    def test_the_configured_period_shortens_the_runners_wait(self):
        self.assertEqual(self.install_with("2.5"), 2.5)

    def test_zero_keeps_queue_jobs_own_wait(self):
        self.assertEqual(self.install_with("0"), 60)

    def test_it_never_lengthens_the_wait(self):
        self.assertEqual(self.install_with("300"), 60)

    def test_a_value_that_is_not_a_number_falls_back_to_the_default(self):
        with self.assertLogs(job_runner.__name__, "WARNING"):
            self.assertEqual(self.install_with("soon"), job_runner.DEFAULT_POLL_SECONDS)
