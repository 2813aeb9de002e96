"""``risk-oracle run``: the keeper as a daemon — cycles on an APScheduler interval, Prometheus metrics and
``/healthz`` on a local port, JSON logs, graceful stop.

Why APScheduler with ``max_instances=1`` and ``coalesce``: a slow cycle (a stuck transaction being replaced) must
never overlap the next one, and cycles missed while it ran collapse into one instead of firing in a burst. SIGTERM
and SIGINT stop the scheduler after the cycle in flight finishes (its journal entries are complete either way: a
cycle killed harder is marked abandoned at the next start and its transactions are reconciled).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apscheduler.schedulers.blocking import BlockingScheduler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from oracle.errors import ConfigError
from oracle.keeper import CycleResult, Keeper

log = logging.getLogger("oracle.daemon")


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (time, level, logger, message, and any ``extra`` fields)."""

    RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in self.RESERVED})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


QUIET_LIBRARIES = ("shap", "numba", "matplotlib", "urllib3", "web3", "asyncio")  # their INFO is not the keeper's news


def configure_json_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr at ``level``; the libraries in ``QUIET_LIBRARIES`` log warnings and errors only (shap's
    kernel explainer logs its internals at INFO on every cycle)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


class KeeperMetrics:
    """The daemon's Prometheus metrics, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.cycle_seconds = Histogram(
            "oracle_cycle_duration_seconds",
            "Duration of a keeper cycle",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.cycles = Counter("oracle_cycles_total", "Keeper cycles by outcome", ["status"], registry=self.registry)
        self.last_success = Gauge(
            "oracle_last_success_timestamp_seconds", "End of the last successful cycle", registry=self.registry
        )
        self.updates = Counter(
            "oracle_updates_total",
            "Asset updates by outcome (sent, not_sent, gated)",
            ["outcome"],
            registry=self.registry,
        )
        self.rpc_errors = Counter(
            "oracle_rpc_errors_total", "RPC failures met by cycles, reading or sending", registry=self.registry
        )
        self.setup_ok = Gauge(
            "oracle_setup_ok",
            "1 while the last check of the keeper's setup on chain passed (chain id, keeper address, risk admin)",
            registry=self.registry,
        )
        self.setup_ok.set(1)  # the daemon starts only after the setup was checked
        self.gas_spent = Counter(
            "oracle_gas_spent_wei_total", "Wei spent on gas by sent updates", registry=self.registry
        )
        self.paused = Gauge("oracle_governor_paused", "1 while the governor is paused", registry=self.registry)

    def observe(self, result: CycleResult, seconds: float, gas_wei: int) -> None:
        self.cycle_seconds.observe(seconds)
        self.cycles.labels(result.status).inc()
        self.paused.set(1 if result.status == "paused" else 0)
        if result.status in ("done", "paused"):
            self.last_success.set(time.time())
        self.rpc_errors.inc(result.rpc_errors)
        if result.error == "SetupError":
            self.setup_ok.set(0)
        elif result.block is not None:  # the cycle got past its setup check to the snapshot
            self.setup_ok.set(1)
        self.updates.labels("sent").inc(len(result.sent))
        self.updates.labels("not_sent").inc(len(result.not_sent))
        if result.recommendation is not None:
            gated = sum(1 for a in result.recommendation.assets if a.gate is not None and not a.gate.passed)
            self.updates.labels("gated").inc(gated)
        self.gas_spent.inc(gas_wei)


def serve_metrics(metrics: KeeperMetrics, port: int, interval_s: float) -> ThreadingHTTPServer:
    """``/metrics`` (Prometheus text format) and ``/healthz`` (200 while the last success is recent and the setup
    check passes) on 127.0.0.1:``port`` (0 = any free port), in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, status, kind = generate_latest(metrics.registry), 200, CONTENT_TYPE_LATEST
            elif self.path == "/healthz":
                last = metrics.last_success._value.get()
                age = time.time() - last if last else None
                setup_ok = bool(metrics.setup_ok._value.get())
                healthy = setup_ok and age is not None and age <= 3 * interval_s
                body = json.dumps({"healthy": healthy, "last_success_age_s": age, "setup_ok": setup_ok}).encode()
                status, kind = (200 if healthy else 503), "application/json"
            else:
                body, status, kind = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes are not log events

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:  # EADDRINUSE, EACCES
        raise ConfigError(
            f"metrics port 127.0.0.1:{port} cannot be served: {exc.strerror} (choose --metrics-port)"
        ) from exc
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def run_daemon(
    keeper: Keeper, *, interval_s: float, dry_run: bool, metrics_port: int, max_cycles: int | None = None
) -> KeeperMetrics:
    """Run cycles every ``interval_s`` until SIGTERM/SIGINT (or ``max_cycles``); returns the metrics."""
    metrics = KeeperMetrics()
    server = serve_metrics(metrics, metrics_port, interval_s)
    abandoned = keeper.journal.abandon_running()
    log.info(
        "keeper started",
        extra={
            "dry_run": dry_run,
            "interval_s": interval_s,
            "metrics": f"http://127.0.0.1:{server.server_address[1]}/metrics",
            "abandoned_cycles": abandoned,
        },
    )
    scheduler = BlockingScheduler()
    done = {"cycles": 0}

    # held for the whole of a cycle: the stop waits on it, so the keeper (its journal, its lock, the node) is
    # closed only once the cycle in flight has written its outcome; `stopping` keeps a cycle the scheduler had
    # already handed to its executor from starting after the stop
    in_flight, stopping = threading.Lock(), threading.Event()

    def one_cycle() -> None:
        with in_flight:
            if not stopping.is_set():
                _cycle()

    def _cycle() -> None:
        started = time.monotonic()
        result = keeper.run_cycle(dry_run=dry_run)
        attempts = keeper.journal.attempts(cycle_id=result.cycle_id)
        gas = sum(
            (a.gas_used or 0) * (a.effective_gas_price or 0) for a in attempts if a.status in ("mined", "reverted")
        )
        metrics.observe(result, time.monotonic() - started, gas)
        log.info(
            "cycle finished",
            extra={
                "cycle": result.cycle_id,
                "status": result.status,
                "block": result.block,
                "sent": result.sent,
                "not_sent": result.not_sent,
                "detail": result.detail,
                "error": result.error,
                "rpc_errors": result.rpc_errors,
                "report_hash": result.report_hash,
            },
        )
        done["cycles"] += 1
        if max_cycles is not None and done["cycles"] >= max_cycles:
            stopping.set()
            scheduler.shutdown(wait=False)

    def stop(signum: int, frame: object) -> None:
        if stopping.is_set():
            return  # a second signal while the cycle in flight finishes
        log.info("stopping after the cycle in flight", extra={"signal": signal.Signals(signum).name})
        stopping.set()
        scheduler.shutdown(wait=False)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    scheduler.add_job(
        one_cycle,
        "interval",
        seconds=interval_s,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(interval_s)),
        id="cycle",
    )
    try:
        scheduler.start()
    finally:
        stopping.set()
        with in_flight:  # the cycle in flight, if any, finishes and journals its outcome first
            pass
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.shutdown()
        log.info("keeper stopped", extra={"cycles": done["cycles"]})
    return metrics
