import hashlib
import hmac
import secrets

from odoo import _, api, models, release
from odoo.tools import SQL

from ..tools.access import MANAGER, requires_group
from ..tools.metrics import exposition

# Only the SHA-256 of the scrape token is stored; the token is shown once, when made.
TOKEN_HASH_PARAM = "psa_connector_base.metrics_token_sha256"
# Webhook latencies are measured over the events processed this long ago at most
# (system parameter psa_connector_base.metrics_latency_window, seconds).
LATENCY_WINDOW_PARAM = "psa_connector_base.metrics_latency_window"
LATENCY_WINDOW_SECONDS = 3600
# Events and exceptions whose work is not over.
UNRESOLVED_EXCEPTION_STATES = ("open", "retrying")
FINISHED_JOB_STATES = ("done", "cancelled")


def _token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


class PsaMetrics(models.AbstractModel):
    """The operations metrics of ``GET /psa/metrics`` (Prometheus text format).

    One database-wide scrape token, for the monitoring system: the metrics cover every
    company's backends. Every value is read from the database at scrape time.
    """

    _name = "psa.metrics"
    _description = "PSA Connector Operations Metrics"

    # The token ----------------------------------------------------------------------

    @api.model
    @requires_group(MANAGER)
    def action_generate_metrics_token(self):
        """Make a new scrape token, store its hash, and show it this once."""
        token = secrets.token_urlsafe(32)
        # sudo: system parameters are the administrator's; the value is a hash.
        self.env["ir.config_parameter"].sudo().set_param(TOKEN_HASH_PARAM, _token_hash(token))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("New metrics token"),
                "message": _(
                    "Copy it now, it is not shown again; the previous token no longer "
                    "works. Prometheus sends it as 'Authorization: Bearer <token>': %s",
                    token,
                ),
                "type": "warning",
                "sticky": True,
            },
        }

    @api.model
    def _token_is_valid(self, token):
        stored = self.env["ir.config_parameter"].sudo().get_param(TOKEN_HASH_PARAM)
        if not stored or not token:
            return False
        return hmac.compare_digest(_token_hash(token), stored)

    @api.model
    def _scrape(self, token):
        """The exposition text for a valid bearer token, None otherwise (the caller answers
        401). Called under sudo by the controller: the token is the authentication."""
        if not self._token_is_valid(token):
            return None
        return exposition(self)

    # Measures (read by tools/metrics.PsaConnectorCollector) ----------------------------

    def _metric_build_info(self):
        module = (
            self.env["ir.module.module"]
            .sudo()
            .search([("name", "=", "psa_connector_base")], limit=1)
        )
        return module.latest_version or "", release.version

    def _metric_queue_jobs(self):
        self.env.cr.execute(
            SQL(
                """SELECT channel, state, count(*) FROM queue_job
                    WHERE state NOT IN %s GROUP BY channel, state ORDER BY channel, state""",
                FINISHED_JOB_STATES,
            )
        )
        return self.env.cr.fetchall()

    def _metric_events(self):
        self.env.cr.execute(
            """SELECT b.code, e.object_type, count(*),
                      count(*) FILTER (WHERE e.state = 'done'),
                      count(*) FILTER (WHERE e.state = 'failed')
                 FROM psa_event e JOIN psa_backend b ON b.id = e.backend_id
                GROUP BY b.code, e.object_type ORDER BY b.code, e.object_type"""
        )
        return self.env.cr.fetchall()

    def _metric_open_exceptions(self):
        self.env.cr.execute(
            SQL(
                """SELECT b.code, x.category, count(*)
                     FROM psa_exception x JOIN psa_backend b ON b.id = x.backend_id
                    WHERE x.state IN %s
                    GROUP BY b.code, x.category ORDER BY b.code, x.category""",
                UNRESOLVED_EXCEPTION_STATES,
            )
        )
        return self.env.cr.fetchall()

    def _latency_window_seconds(self):
        value = self.env["ir.config_parameter"].sudo().get_param(LATENCY_WINDOW_PARAM)
        try:
            return max(int(value), 1) if value else LATENCY_WINDOW_SECONDS
        except ValueError:
            return LATENCY_WINDOW_SECONDS

    def _metric_webhook_latency(self, bounds):
        """Per backend: cumulative bucket counts ``[(le, count), ..., ("+Inf", n)]`` and
        the sum of the latencies. ``create_date`` is the acceptance to the microsecond
        (see psa.event._insert_if_new); ``processed_date`` is whole seconds, so a
        latency below a second may read as 0 (never negative)."""
        buckets = SQL(", ").join(
            SQL("count(*) FILTER (WHERE latency <= %s)", bound) for bound in bounds
        )
        self.env.cr.execute(
            SQL(
                """WITH recent AS (
                       SELECT e.backend_id, GREATEST(
                              EXTRACT(EPOCH FROM e.processed_date - e.create_date), 0) AS latency
                         FROM psa_event e
                        WHERE e.source = 'webhook' AND e.processed_date IS NOT NULL
                          AND e.processed_date >= (now() AT TIME ZONE 'UTC') - %s * interval '1 second'
                   )
                   SELECT b.code, %s, count(*), sum(latency)
                     FROM recent JOIN psa_backend b ON b.id = recent.backend_id
                    GROUP BY b.code ORDER BY b.code""",
                self._latency_window_seconds(),
                buckets,
            )
        )
        result = []
        for row in self.env.cr.fetchall():
            code, counts, total, latency_sum = row[0], row[1:-2], row[-2], row[-1]
            pairs = [(_bound(bound), count) for bound, count in zip(bounds, counts, strict=True)]
            pairs.append(("+Inf", total))
            result.append((code, pairs, float(latency_sum or 0)))
        return result

    def _metric_pull_age(self):
        self.env.cr.execute(
            """SELECT b.code, w.object_type,
                      EXTRACT(EPOCH FROM (now() AT TIME ZONE 'UTC') - w.last_success)
                 FROM psa_sync_watermark w JOIN psa_backend b ON b.id = w.backend_id
                WHERE w.last_success IS NOT NULL
                ORDER BY b.code, w.object_type"""
        )
        return [
            (code, object_type, float(age)) for code, object_type, age in self.env.cr.fetchall()
        ]


def _bound(bound):
    return f"{bound:g}" if bound != int(bound) else f"{bound:.1f}"
