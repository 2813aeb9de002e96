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
import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import matplotlib
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from oracle.errors import ReportExistsError
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
    not_sent: dict[str, str] = Field(
        default_factory=dict, description="asset -> why its proposed update was not sent or did not land"
    )


# ----------------------------------------------------------------------------------------------- formatting
def _utc(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _usd(x: float) -> str:
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e6 else f"${x:,.0f}"


def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}%}"


def _short(h: str | None, n: int = 12) -> str:
    return "–" if not h else (h[: n + 2] + "…" if h.startswith("0x") else h[:n] + "…")


MARKDOWN_SPECIAL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "`": "\\`"})


def _markdown_text(value: Any) -> Any:
    """A value printed into Markdown: HTML and table metacharacters neutralised (a token symbol is chosen by
    whoever deployed the token, and Markdown viewers render inline HTML)."""
    return value.translate(MARKDOWN_SPECIAL) if isinstance(value, str) else value


def _environment(version: int, html: bool) -> Environment:
    """The template environment of report format ``version``. From version 2 on, everything a template prints is
    escaped: HTML by jinja2's autoescape, Markdown by ``_markdown_text``. Version 1 (unescaped) is kept only so
    that reports written in it still re-render byte for byte."""
    escaped = version >= 2
    env = Environment(
        loader=PackageLoader("oracle.report", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=escaped and html,
        finalize=_markdown_text if escaped and not html else None,
    )
    env.filters.update(utc=_utc, usd=_usd, pct=_pct, short=_short)
    return env


SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def shap_chart_names(report: Report) -> dict[str, str]:
    """Each asset's SHAP chart file, by symbol. From version 2 on the name is the asset's position plus its symbol
    reduced to safe characters (a symbol is an on-chain string: ``../x`` or ``a/b`` must not make a path)."""
    if report.version < 2:
        return {a.asset: f"charts/shap_{a.asset}.png" for a in report.recommendation.assets}
    return {
        a.asset: f"charts/shap_{k}_{SAFE_NAME.sub('_', a.asset).strip('.')[:32] or 'asset'}.png"
        for k, a in enumerate(report.recommendation.assets)
    }


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
        "shap_charts": shap_chart_names(report),
    }


# ----------------------------------------------------------------------------------------------- rendering
def chart_files(report: Report) -> dict[str, bytes]:
    """``charts/*.png`` of the report. From version 2 on, chart text is never parsed as mathtext: it includes
    on-chain strings (token symbols), and a symbol like ``$x^2$`` must print as itself (malformed mathtext would
    also raise). Version 1 kept matplotlib's default, which changes the glyphs of a lone ``$``."""
    with matplotlib.rc_context({"text.parse_math": report.version < 2}):
        files = {
            "charts/risk.png": charts.risk_histogram(report.risk),
            "charts/cross_asset.png": charts.cross_asset(report.recommendation),
            "charts/vol.png": charts.vol_tracks(report.vol_tracks),
        }
        names = shap_chart_names(report)
        for a in report.recommendation.assets:
            files[names[a.asset]] = charts.shap_waterfall(a)
    return files


def render_files(
    report: Report, seal: Seal | None = None, charts_png: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    """Every file of the report directory but the manifest and ``seal.json``, by relative path (``charts_png``:
    the charts when already drawn)."""
    files = {"report.json": (report.model_dump_json(indent=1) + "\n").encode()}
    files.update(charts_png if charts_png is not None else chart_files(report))
    links = {name: name for name in files if name.endswith(".png")}
    inlined = {
        name: "data:image/png;base64," + base64.b64encode(data).decode()
        for name, data in files.items()
        if name.endswith(".png")
    }
    markdown = _environment(report.version, html=False).get_template("report.md.j2")
    html = _environment(report.version, html=True).get_template("report.html.j2")
    files["report.md"] = markdown.render(_view(report, seal, links)).encode()
    files["report.html"] = html.render(_view(report, seal, inlined)).encode()
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


def _digest(files: dict[str, bytes]) -> str:
    return "0x" + hashlib.sha256(files[MANIFEST]).hexdigest()


def _write_new_directory(directory: Path, files: dict[str, bytes]) -> bool:
    """Create ``directory`` holding exactly ``files``, atomically: everything is written to a temporary sibling
    that is renamed into place, so a reader never sees half a report and two writers cannot interleave. Returns
    ``False`` (and writes nothing) when ``directory`` exists and is not empty; an empty one is replaced."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        for name, data in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        try:
            os.rename(staging, directory)  # fails when the target is a non-empty directory
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                return False
            raise
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _taken(directory: Path, report_hash: str) -> ReportExistsError:
    """The error for a directory that holds something other than this report."""
    manifest_file, seal_file = directory / MANIFEST, directory / SEAL
    if manifest_file.is_file():
        held = "0x" + hashlib.sha256(manifest_file.read_bytes()).hexdigest()
        state = "sealed" if seal_file.is_file() else "unsealed"
        what = f"another report ({state}, reportHash {held[:18]}…)"
    else:
        what = "other files"
    return ReportExistsError(
        f"{directory} holds {what}; it is never replaced (its hash may be on chain): choose another directory",
        directory,
        report_hash,
    )


def _restore(directory: Path, files: dict[str, bytes]) -> None:
    """Rewrite ``files`` into a directory that already holds the same report (same manifest): restores edited or
    missing files; each file is replaced atomically."""
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)


def report_files(
    report: Report, seal: Seal | None = None, charts_png: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    """Every file of the report directory: the rendered files, ``manifest.json`` and (when sealed) ``seal.json``,
    the sealed files' seal blocks filled in (``charts_png``: the charts when already drawn)."""
    files = render_files(report, None, charts_png)
    files[MANIFEST] = manifest(files, report)
    if seal is not None:
        drawn = {name: data for name, data in files.items() if name.endswith(".png")}
        sealed = render_files(report, seal, drawn)
        files.update({name: sealed[name] for name in SEALED_FILES})
        files[SEAL] = (seal.model_dump_json(indent=1) + "\n").encode()
    return files


def write_report(report: Report, directory: Path) -> str:
    """Write the report unsealed, with its manifest, as a new directory; returns the report hash (0x-hex sha256
    of the manifest). Raises ``ReportExistsError`` when ``directory`` exists and is not empty, even when it holds
    this same report (it may be sealed): a cycle's directory is written once, then only sealed."""
    files = report_files(report)
    if not _write_new_directory(directory, files):
        raise _taken(directory, _digest(files))
    return _digest(files)


def seal_report(report: Report, directory: Path, seal: Seal) -> None:
    """Fill the seal blocks of the Markdown and HTML and write ``seal.json``, in the directory ``write_report``
    wrote for this report (checked by its manifest); each file is replaced atomically."""
    drawn = {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted((directory / "charts").glob("*.png"))}
    files = report_files(report, seal, drawn)
    if (directory / MANIFEST).read_bytes() != files[MANIFEST]:
        raise _taken(directory, _digest(files))
    _restore(directory, {name: files[name] for name in (*SEALED_FILES, SEAL)})


def render_directory(report: Report, directory: Path, seal: Seal | None = None) -> str:
    """Write a whole report directory (sealed when ``seal`` is given) in one step; returns the report hash. A
    directory that already holds this report (same manifest) is restored file by file; one holding a different
    report, sealed or not, is never touched (``ReportExistsError``)."""
    files = report_files(report, seal)
    report_hash = _digest(files)
    if _write_new_directory(directory, files):
        return report_hash
    existing = directory / MANIFEST
    if existing.is_file() and existing.read_bytes() == files[MANIFEST]:
        _restore(directory, files)
        return report_hash
    raise _taken(directory, report_hash)
