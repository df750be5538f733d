"""Prometheus metrics (GET /metrics), one registry per app.

- `omnix_http_request_duration_seconds{method,route,status}`: request latency histogram, by
  route template (bounded label values, no customer ids in labels);
- `omnix_pipeline_stage_seconds{stage}`: each stage of the last successful analysis (from the
  runs table, so CLI runs count too), and `omnix_pipeline_stage_duration_seconds{stage}`, a
  histogram of stages run by this server;
- `omnix_model_quality{dataset,task,method,metric}`: the figures of the last backtest (the
  runs table's last `omnix backtest`, else OMNIX_MODEL_QUALITY_FILE in the shape of
  benchmarks/results/backtest.json);
- `omnix_events_total{outcome}`, `omnix_store_rows{table}`, `omnix_view_cache_customers`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from omnix.entrypoints.api.security import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
    60.0,
)
QUALITY_KEYS: Final = ("recall@10", "ndcg@10", "phr@10", "auc", "brier", "ece", "mae_days")


class Metrics:
    """The registry and the instruments the app records into."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "omnix_http_request_duration_seconds",
            "HTTP request latency (seconds)",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stages = Histogram(
            "omnix_pipeline_stage_duration_seconds",
            "Analysis stages run by this server (seconds)",
            ["stage"],
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
            registry=self.registry,
        )
        self.events = Counter(
            "omnix_events",
            "Posted purchase events by outcome",
            ["outcome"],
            registry=self.registry,
        )

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)


class StoreCollector(Collector):
    """Figures read from the store at scrape time: stage seconds, model quality, rows."""

    def __init__(
        self,
        runs: Callable[[], list[dict[str, Any]]],
        counts: Callable[[], dict[str, int]],
        quality_file: Path | None,
        cached: Callable[[], int],
    ) -> None:
        self.runs, self.counts, self.quality_file, self.cached = runs, counts, quality_file, cached

    def describe(self) -> list[Any]:
        return []  # collected lazily: scraping reads the store, registering must not

    def collect(self) -> Iterator[Any]:
        runs = self.runs()
        stages = GaugeMetricFamily(
            "omnix_pipeline_stage_seconds",
            "Seconds per stage of the last analysis",
            labels=["stage"],
        )
        for stage, seconds in _last_detail(runs, "analyze").get("seconds", {}).items():
            stages.add_metric([stage], float(seconds))
        yield stages
        quality = GaugeMetricFamily(
            "omnix_model_quality",
            "Model quality of the last backtest",
            labels=["dataset", "task", "method", "metric"],
        )
        for labels, value in _quality(_last_detail(runs, "backtest"), self.quality_file):
            quality.add_metric(labels, value)
        yield quality
        rows = GaugeMetricFamily("omnix_store_rows", "Rows per table", labels=["table"])
        for table, n in self.counts().items():
            rows.add_metric([table], float(n))
        yield rows
        cache = GaugeMetricFamily("omnix_view_cache_customers", "Customers with cached views")
        cache.add_metric([], float(self.cached()))
        yield cache


def _last_detail(runs: list[dict[str, Any]], command: str) -> dict[str, Any]:
    for run in runs:
        if run["command"] == command and run["status"] == "ok":
            detail = run["detail"]
            parsed: dict[str, Any] = json.loads(detail) if isinstance(detail, str) else detail
            return parsed or {}
    return {}


def _quality(detail: dict[str, Any], path: Path | None) -> Iterator[tuple[list[str], float]]:
    reports: dict[str, Any] = {}
    if detail.get("next_basket") or detail.get("pair_probabilities"):
        reports = {"store": detail}
    elif path is not None and path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        reports = {"file": data} if "next_basket" in data else data
    for dataset, report in reports.items():
        for task in ("next_basket", "pair_probabilities"):
            for row in report.get(task) or []:
                for metric in QUALITY_KEYS:
                    value = row.get(metric)
                    if isinstance(value, int | float) and math.isfinite(value):
                        yield [dataset, task, str(row.get("method")), metric], float(value)


class RequestMetrics:
    """Times every HTTP request into the latency histogram, labelled by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(scope["method"], template, str(status["code"])).observe(
                time.perf_counter() - started
            )
