"""Prometheus metrics the service exposes at /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_INGESTED = Counter(
    "proxy_events_ingested_total", "VK events stored", ["source", "status"], registry=REGISTRY
)
EVENTS_DUPLICATE = Counter(
    "proxy_events_duplicate_total", "VK events received again and ignored", ["source"], registry=REGISTRY
)
CALLBACK_REJECTED = Counter(
    "proxy_callback_rejected_total", "Callback requests refused", ["reason"], registry=REGISTRY
)
REFUSALS = Counter(
    "proxy_refusals_total",
    "Refused requests that are journaled once per minute with their count (proxy/refusals.py), by journal "
    "action (callback.bad_secret, access.denied) and reason",
    ["action", "reason"],
    registry=REGISTRY,
)
OUTBOX_SENT = Counter("proxy_outbox_sent_total", "Actions performed on VK", ["method"], registry=REGISTRY)
OUTBOX_FAILED = Counter(
    "proxy_outbox_failed_total", "Actions VK refused for good", ["method"], registry=REGISTRY
)
GROUP_COMMIT_STATEMENTS = Histogram(
    "proxy_group_commit_statements",
    "Statements written together by one group commit (1: alone, in autocommit)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
GROUP_COMMIT_FAILED = Counter(
    "proxy_group_commit_failed_total",
    "Group commits undone and written again statement by statement",
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "proxy_http_request_seconds", "HTTP request latency", ["route"], registry=REGISTRY
)


def render() -> bytes:
    return generate_latest(REGISTRY)
RULE_EVALUATION_SECONDS = Histogram(
    "proxy_rule_evaluation_seconds",
    "Time to evaluate every active moderation rule on one incoming item (proxy/rules/worker.py)",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
    registry=REGISTRY,
)
RULE_FAILURES = Counter(
    "proxy_rule_failures_total",
    "A moderation rule skipped for an item because evaluating it failed (a pattern ran out of time)",
    registry=REGISTRY,
)
RULE_HITS = Counter("proxy_rule_hits_total", "Moderation rules matching an item", ["mode"], registry=REGISTRY)
