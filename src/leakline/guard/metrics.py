"""The gateway's Prometheus series, registered in the app's registry next to its request counter.

    leakline_gateway_requests_total{region, endpoint, outcome}
    leakline_gateway_sanitizer_actions_total{detector, action}
    leakline_gateway_prompt_actions_total{endpoint, detector, action}   (input side: redact, alert)
    leakline_gateway_upstream_errors_total{region, code}
    leakline_gateway_upstream_latency_seconds{region}        (histogram: until the upstream's headers)
    leakline_gateway_upstream_ready{region}                  (gauge, 1 or 0: the last `/readyz` check)
    leakline_gateway_signal_outbox_depth                     (gauge: signals waiting in the outbox)
    leakline_gateway_signal_outbox_bytes                     (gauge: their JSON's bytes)
    leakline_gateway_signals_dropped_total                   (not kept: the outbox was full)
    leakline_gateway_dropped_fields_total{field}             (fields of answers removed unread, `fields.py`)
    leakline_gateway_audit_failures_total{sink}              (audit writes that failed: a full disk, an I/O error)
    leakline_gateway_audit_records_lost_total{sink, kind}    (records never written: kind exchange or signal)
    leakline_gateway_audit_failing{sink}                     (gauge, 1 while the sink cannot be written)
    leakline_gateway_database_keys                           (gauge: keys kept in the database now accepted)
    leakline_gateway_database_key_reads_failed_total         (reads of the database keys that failed)

`region` is "none" when no region was chosen (a refusal before residency, or by residency). Outcomes:
ok, blocked, rejected_residency, unauthorized, upstream_error, invalid_request (400/403/404/408/413/415),
sanitizer_failed, client_disconnected, shutting_down (ended by the server's stop), audit_unavailable
(`[audit] on_failure = "refuse"`) and error (anything unexpected). Labels never carry a key, a prompt or a
detector's match; `field` is a key's name as `fields.dropped_name` bounds it (at most `MAX_DROPPED_NAMES` names
per worker process, the rest `other`). `sink` is the region of an audit sink, "none" for `[audit] path`
(records without a region), never its path.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from leakline.guard.fields import MAX_DROPPED_NAMES, OTHER

NO_REGION = "none"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_BY_CODE = {
    "invalid_api_key": "unauthorized",
    "residency_refused": "rejected_residency",
    "sanitizer_failed": "sanitizer_failed",
    "client_disconnected": "client_disconnected",
    "audit_unavailable": "audit_unavailable",
    "invalid_json": "invalid_request",
    "invalid_request": "invalid_request",
    "model_not_allowed": "invalid_request",
    "model_not_found": "invalid_request",
    "request_too_large": "invalid_request",
    "unsupported_media_type": "invalid_request",
    "request_timeout": "invalid_request",
    "shutting_down": "shutting_down",
}


def outcome(code: str | None, blocked: bool) -> str:
    """The `outcome` label of a request that ended with error `code` (None: answered)."""
    if code is None:
        return "blocked" if blocked else "ok"
    if code.startswith("upstream_"):
        return "upstream_error"
    return _BY_CODE.get(code, "error")


class GatewayMetrics:
    """Unregistered collectors (each app registers them in its own registry, so tests and apps never clash)."""

    def __init__(self) -> None:
        self.requests = Counter(
            "leakline_gateway_requests",
            "Gateway requests by region, endpoint and outcome",
            ["region", "endpoint", "outcome"],
            registry=None,
        )
        self.actions = Counter(
            "leakline_gateway_sanitizer_actions",
            "Sanitizer detector hits by detector and the action taken (redact, block, alert)",
            ["detector", "action"],
            registry=None,
        )
        self.prompt_actions = Counter(
            "leakline_gateway_prompt_actions",
            "Detector hits in prompts (input side) by endpoint, detector and the action taken (redact, alert)",
            ["endpoint", "detector", "action"],
            registry=None,
        )
        self.upstream_errors = Counter(
            "leakline_gateway_upstream_errors",
            "Requests that failed because of the upstream, by region and error code",
            ["region", "code"],
            registry=None,
        )
        self.upstream_latency = Histogram(
            "leakline_gateway_upstream_latency_seconds",
            "Time from sending a request to the upstream until its response headers arrived",
            ["region"],
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.upstream_ready = Gauge(
            "leakline_gateway_upstream_ready",
            "Whether the region's upstream answered the last readiness check (1) or not (0)",
            ["region"],
            registry=None,
            # With `--workers N` each worker checks on its own: the last check, whichever worker made it.
            multiprocess_mode="mostrecent",
        )
        # The outbox is one file shared by the workers of a host: its depth is whatever a worker last read.
        self.outbox_depth = Gauge(
            "leakline_gateway_signal_outbox_depth",
            "Signals not delivered yet, waiting in the signal outbox (gateway.signal_outbox)",
            registry=None,
            multiprocess_mode="mostrecent",
        )
        self.outbox_bytes = Gauge(
            "leakline_gateway_signal_outbox_bytes",
            "Bytes of signal JSON waiting in the signal outbox",
            registry=None,
            multiprocess_mode="mostrecent",
        )
        self.signals_dropped = Counter(
            "leakline_gateway_signals_dropped",
            "Signals not delivered and not kept because the signal outbox was full (the oldest are kept)",
            registry=None,
        )
        self.dropped_fields = Counter(
            "leakline_gateway_dropped_fields",
            "Fields of upstream answers the gateway removed unread (text it does not sanitize, the prompt's "
            "tokens), by field name (where.key)",
            ["field"],
            registry=None,
        )
        self.audit_failures = Counter(
            "leakline_gateway_audit_failures",
            "Audit log writes that failed (a full disk, an I/O error), by sink (region, or none)",
            ["sink"],
            registry=None,
        )
        self.audit_lost = Counter(
            "leakline_gateway_audit_records_lost",
            "Audit records never written because their sink failed, by sink and kind (exchange, signal)",
            ["sink", "kind"],
            registry=None,
        )
        self.audit_failing = Gauge(
            "leakline_gateway_audit_failing",
            "Whether the sink cannot be written now (1): exchanges are served without their audit records",
            ["sink"],
            registry=None,
            multiprocess_mode="mostrecent",
        )
        self.database_keys = Gauge(
            "leakline_gateway_database_keys",
            "Keys kept in the database (leakline gateway-keys) that this worker accepts now; 0 after "
            "database_keys_max_stale_seconds without a successful read",
            registry=None,
            multiprocess_mode="mostrecent",
        )
        self.database_key_reads_failed = Counter(
            "leakline_gateway_database_key_reads_failed",
            "Reads of the keys kept in the database that failed (the last keys read stay accepted for "
            "database_keys_max_stale_seconds)",
            registry=None,
        )
        self._dropped_names: set[str] = set()
        # labels() takes a lock and builds a tuple each time; the children are few and kept here.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def collectors(self) -> list[Collector]:
        return [
            self.requests,
            self.actions,
            self.prompt_actions,
            self.upstream_errors,
            self.upstream_latency,
            self.upstream_ready,
            self.outbox_depth,
            self.outbox_bytes,
            self.signals_dropped,
            self.dropped_fields,
            self.audit_failures,
            self.audit_lost,
            self.audit_failing,
            self.database_keys,
            self.database_key_reads_failed,
        ]

    def request(self, region: str | None, endpoint: str, code: str | None, blocked: bool) -> None:
        region = region or NO_REGION
        kind = outcome(code, blocked)
        self._child(self.requests, region, endpoint, kind).inc()
        if kind == "upstream_error" and code is not None:
            self._child(self.upstream_errors, region, code).inc()

    def action(self, detector: str, action: str) -> None:
        self._child(self.actions, detector, action).inc()

    def prompt_action(self, endpoint: str, detector: str, action: str) -> None:
        self._child(self.prompt_actions, endpoint, detector, action).inc()

    def latency(self, region: str, seconds: float) -> None:
        self._child(self.upstream_latency, region).observe(seconds)

    def ready(self, region: str, ready: bool) -> None:
        self._child(self.upstream_ready, region).set(1 if ready else 0)

    def outbox(self, entries: int, size: int) -> None:
        self.outbox_depth.set(entries)
        self.outbox_bytes.set(size)

    def signal_dropped(self) -> None:
        self.signals_dropped.inc()

    def audit_failure(self, sink: str | None) -> None:
        self._child(self.audit_failures, sink or NO_REGION).inc()

    def audit_records_lost(self, sink: str | None, kind: str, count: int) -> None:
        self._child(self.audit_lost, sink or NO_REGION, kind).inc(count)

    def audit_state(self, sink: str | None, failing: bool) -> None:
        self._child(self.audit_failing, sink or NO_REGION).set(1 if failing else 0)

    def dropped_field(self, name: str) -> None:
        """One field removed from an answer. `fields` already bounds the names; bounded here as well, so
        that no caller can give the series more than `MAX_DROPPED_NAMES` label values (plus `other`)."""
        if name not in self._dropped_names:
            if len(self._dropped_names) >= MAX_DROPPED_NAMES:
                name = OTHER
            self._dropped_names.add(name)
        self._child(self.dropped_fields, name).inc()
