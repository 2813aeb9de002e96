"""Write a ``Report`` as a report directory: ``report.json``, charts, ``report.md``, a self-contained
``report.html``, ``manifest.json`` (sha256 of every file) and, after submission, the seal.

The on-chain ``reportHash`` is the sha256 of ``manifest.json``. A file cannot contain its own hash, and the
transactions carrying the hash do not exist until it is known, so the Markdown and HTML are written with an empty
*seal* block (between ``<!-- seal -->`` and ``<!-- /seal -->``), hashed in that form, and the block is filled in
afterwards with the report hash and the transactions (``seal.json`` holds the same). ``verify`` empties the block
before hashing and checks its content against ``seal.json``, the manifest and the chain. Every render is a pure
function of the ``Report`` (and the seal), so re-rendering gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from oracle.explain.attribution import OutputAttribution
from oracle.report import charts
from oracle.report.schema import Report

MANIFEST = "manifest.json"
SEAL = "seal.json"
SEALED_FILES = ("report.md", "report.html")
SEAL_BLOCK = re.compile(r"(<!-- seal -->).*?(<!-- /seal -->)", re.DOTALL)


class Seal(BaseModel):
    """What is known only after the manifest is hashed: the hash itself and the transactions carrying it."""

    model_config = ConfigDict(frozen=True)

    report_hash: str
    dry_run: bool
    transactions: dict[str, str] = Field(default_factory=dict, description="asset -> hash of the mined update")


# ----------------------------------------------------------------------------------------------- formatting
def _utc(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _usd(x: float) -> str:
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e6 else f"${x:,.0f}"


def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}%}"


def _short(h: str | None, n: int = 12) -> str:
    return "–" if not h else (h[: n + 2] + "…" if h.startswith("0x") else h[:n] + "…")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("oracle.report", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(utc=_utc, usd=_usd, pct=_pct, short=_short)
    return env


# ----------------------------------------------------------------------------------------------- view model
def _change_rows(report: Report) -> list[dict[str, Any]]:
    rows = []
    for a in report.recommendation.assets:
        for k, out in enumerate(a.attribution.outputs):
            clamp = a.bounded.clamps[k] if a.bounded else None
            rows.append(
                {
                    "asset": a.asset,
                    "first": k == 0,
                    "param": out.output,
                    "raw": f"{out.value_bps:.0f}",
                    "current": str(clamp.current) if clamp else "–",
                    "bounded": str(clamp.bounded) if clamp else "–",
                    "delta": f"{clamp.bounded - clamp.current:+d}" if clamp else "–",
                    "changed": bool(clamp and clamp.bounded != clamp.current),
                    "binding": clamp.binding if clamp else "not governed",
                    "next": _utc(clamp.next_change_at)[:16] if clamp and clamp.next_change_at else "now",
                }
            )
    return rows


def _verdict(report: Report, symbol: str) -> str:
    a = report.recommendation.asset(symbol)
    if a.bounded is None:
        return "not governed"
    if a.gate is None:
        return "no change to propose"
    if a.gate.passed:
        return (
            f"passes the risk gate: ES99 {a.gate.current.es99_share:.4%} → {a.gate.proposed.es99_share:.4%} of "
            f"collateral; liquidatable at once {a.gate.liquidatable_now_share:.2%} → "
            f"{a.gate.liquidatable_after_share:.2%} of debt"
        )
    return f"blocked by the risk gate: {a.gate.reason}"


def _drivers(out: OutputAttribution, n: int = 3) -> str:
    return ", ".join(f"{name} {bps:+.0f}" for name, bps in out.drivers(n))


def _inputs_rows(report: Report) -> list[dict[str, Any]]:
    snap, max_age = report.inputs.snapshot, report.inputs.policy.snapshot.max_feed_age_s
    rows = []
    for a, f in zip(snap.assets, report.inputs.forecasts, strict=True):
        first = a.history[0].updated_at if a.history else a.price_updated_at
        rows.append(
            {
                "asset": a.symbol,
                "feed": a.feed,
                "price": f"{a.price_usd:,.4g}" if a.price_usd < 1 else f"{a.price_usd:,.2f}",
                "updated": _utc(a.price_updated_at),
                "age": a.staleness_s,
                "max_age": max_age,
                "fresh": a.staleness_s <= max_age,
                "rounds": len(a.history),
                "span_days": f"{(a.price_updated_at - first) / 86_400:.0f}",
                "source": f.source,
                "reason": f.reason,
                "history_days": f.history_days,
            }
        )
    return rows


def _view(report: Report, seal: Seal | None, images: dict[str, str]) -> dict[str, Any]:
    snap = report.inputs.snapshot
    return {
        "r": report,
        "snap": snap,
        "seal": seal,
        "images": images,
        "changes": _change_rows(report),
        "verdicts": {a.asset: _verdict(report, a.asset) for a in report.recommendation.assets},
        "drivers": _drivers,
        "inputs": _inputs_rows(report),
        "positions": len(snap.positions),
        "borrowers": sum(1 for p in snap.positions if p.debt > 0),
        "stable_unit": 10**snap.stable_decimals,
        "forecasts": {f.asset: f for f in report.inputs.forecasts},
    }


# ----------------------------------------------------------------------------------------------- rendering
def chart_files(report: Report) -> dict[str, bytes]:
    """``charts/*.png`` of the report."""
    files = {
        "charts/risk.png": charts.risk_histogram(report.risk),
        "charts/cross_asset.png": charts.cross_asset(report.recommendation),
        "charts/vol.png": charts.vol_tracks(report.vol_tracks),
    }
    for a in report.recommendation.assets:
        files[f"charts/shap_{a.asset}.png"] = charts.shap_waterfall(a)
    return files


def render_files(
    report: Report, seal: Seal | None = None, charts_png: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    """Every file of the report directory but the manifest and ``seal.json``, by relative path (``charts_png``:
    the charts when already drawn)."""
    files = {"report.json": (report.model_dump_json(indent=1) + "\n").encode()}
    files.update(charts_png if charts_png is not None else chart_files(report))
    env = _environment()
    links = {name: name for name in files if name.endswith(".png")}
    inlined = {
        name: "data:image/png;base64," + base64.b64encode(data).decode()
        for name, data in files.items()
        if name.endswith(".png")
    }
    files["report.md"] = env.get_template("report.md.j2").render(_view(report, seal, links)).encode()
    files["report.html"] = env.get_template("report.html.j2").render(_view(report, seal, inlined)).encode()
    return files


def unsealed(data: bytes) -> bytes:
    """A sealed file's bytes with its seal block emptied: what the manifest hashes."""
    text = data.decode(errors="surrogateescape")  # a damaged file must still hash (to something else)
    return SEAL_BLOCK.sub(lambda m: m.group(1) + m.group(2), text).encode(errors="surrogateescape")


def manifest(files: dict[str, bytes], report: Report) -> bytes:
    """``manifest.json``: sha256 of every file (sealed files with their seal block emptied)."""
    body = {
        "report_version": report.version,
        "chain_id": report.chain_id,
        "block_number": report.block_number,
        "cycle_id": report.cycle_id,
        "algorithm": "sha256",
        "files": {
            name: hashlib.sha256(unsealed(data) if name in SEALED_FILES else data).hexdigest()
            for name, data in sorted(files.items())
        },
        "sealed": list(SEALED_FILES),
        "note": "reportHash on chain = sha256 of this file; files listed in 'sealed' are hashed with the text "
        "between <!-- seal --> and <!-- /seal --> removed (it holds the report hash and transactions)",
    }
    return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def write_report(report: Report, directory: Path) -> str:
    """Write the report unsealed and its manifest; returns the report hash (0x-hex sha256 of the manifest)."""
    files = render_files(report)
    files[MANIFEST] = manifest(files, report)
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return "0x" + hashlib.sha256(files[MANIFEST]).hexdigest()


def seal_report(report: Report, directory: Path, seal: Seal) -> None:
    """Fill the seal blocks of the Markdown and HTML and write ``seal.json``."""
    drawn = {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted((directory / "charts").glob("*.png"))}
    files = render_files(report, seal, drawn)
    for name in SEALED_FILES:
        (directory / name).write_bytes(files[name])
    (directory / SEAL).write_text(seal.model_dump_json(indent=1) + "\n")


def render_directory(report: Report, directory: Path, seal: Seal | None = None) -> str:
    """Write a whole report directory (and seal it when ``seal`` is given); returns the report hash."""
    report_hash = write_report(report, directory)
    if seal is not None:
        seal_report(report, directory, seal)
    return report_hash
