"""The Prometheus exposition of ``GET /psa/metrics``, built from the database at scrape time.

Odoo serves requests from several worker processes, so counters kept in one process
would each see a part of the traffic: every value here is read from PostgreSQL when
Prometheus scrapes, through a collector registered on a registry of its own (never the
process-wide default one).
"""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

PREFIX = "psa_connector_"
# Webhook latency buckets (seconds from acceptance to applied): sub-second is the drain's
# linger, minutes mean a queue that does not keep up.
LATENCY_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class PsaConnectorCollector(Collector):
    """Yields the connector's metric families from ``source``, a ``psa.metrics`` model
    whose ``_metric_*`` methods read the database."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        source = self.source

        build = GaugeMetricFamily(
            PREFIX + "build_info",
            "The installed connector version; always 1.",
            labels=["version", "odoo_version"],
        )
        version, odoo_version = source._metric_build_info()
        build.add_metric([version, odoo_version], 1)
        yield build

        queue = GaugeMetricFamily(
            PREFIX + "queue_jobs",
            "queue_job jobs not finished, per channel and state.",
            labels=["channel", "state"],
        )
        for channel, state, count in source._metric_queue_jobs():
            queue.add_metric([channel or "", state], count)
        yield queue

        received = CounterMetricFamily(
            PREFIX + "events_received",
            "Inbound events stored (webhooks, pulls, replays), per backend and object type.",
            labels=["backend", "object_type"],
        )
        applied = CounterMetricFamily(
            PREFIX + "events_applied",
            "Inbound events applied to Odoo, per backend and object type.",
            labels=["backend", "object_type"],
        )
        failed = CounterMetricFamily(
            PREFIX + "events_failed",
            "Inbound events that failed, per backend and object type.",
            labels=["backend", "object_type"],
        )
        for backend, object_type, total, done, failures in source._metric_events():
            labels = [backend, object_type or ""]
            received.add_metric(labels, total)
            applied.add_metric(labels, done)
            failed.add_metric(labels, failures)
        yield received
        yield applied
        yield failed

        exceptions = GaugeMetricFamily(
            PREFIX + "open_exceptions",
            "Exceptions waiting for a person (open or being retried), per backend and category.",
            labels=["backend", "category"],
        )
        for backend, category, count in source._metric_open_exceptions():
            exceptions.add_metric([backend, category], count)
        yield exceptions

        latency = HistogramMetricFamily(
            PREFIX + "webhook_latency_seconds",
            "Seconds from a webhook's acceptance to its event being processed, over the "
            f"events processed in the last {source._latency_window_seconds()} seconds.",
            labels=["backend"],
        )
        for backend, buckets, total in source._metric_webhook_latency(LATENCY_BUCKETS):
            latency.add_metric([backend], buckets, total)
        yield latency

        pull_age = GaugeMetricFamily(
            PREFIX + "last_successful_pull_age_seconds",
            "Seconds since the last successful pull, per backend and object type "
            "(object types never pulled successfully are left out).",
            labels=["backend", "object_type"],
        )
        for backend, object_type, age in source._metric_pull_age():
            pull_age.add_metric([backend, object_type], age)
        yield pull_age


def exposition(source):
    """The text format of everything ``source`` measures, from a fresh registry."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PsaConnectorCollector(source))
    return generate_latest(registry)
