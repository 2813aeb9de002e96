"""Build the embedded Aave crisis-history extract (oracle/data/history/) from the real data in ../shared/data.

Why: the check of the liquidation simulator against what happened on Aave (tests, CI, the benchmark) must run on
a clean clone where ../shared/data may not exist. This copies only the rows of each crisis window of
``oracle.data.aave_history.WINDOWS`` (plus ``CONTEXT_DAYS`` before its start) of the files the check uses, into the
same relative paths under oracle/data/history/, so that the loaders read either directory the same way. Values
are copied as text, unchanged; only rows outside the windows and unused columns are left out. It writes
PROVENANCE.md next to them: source file and its sha256, source repository and commit (from the shared READMEs),
rows taken per window, and what was transformed.

Usage: python tools/make_history_extract.py [DATA_DIR]   (default ../shared/data next to the repository)
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from oracle.data.aave_history import CONTEXT_DAYS, DAILY_CONTEXT_DAYS, HISTORY_DIR, STABLES, WINDOWS, Window

REPO = Path(__file__).resolve().parents[1]

# Sources as documented in ../shared/data/README.md and ../shared/data/onchain/README.md
BINANCE_ETH = {
    "2021": "`djienne/3EMA_SRSI_ATR` `user_data/data/binance/ETH_USDT-1h.json` @ "
    "29af186a61a76e1f70494e70955e327cde5919ac",
    "2022b": "`hopeffy/economics-project-algorithmic-trading-algorithms` `data/ETHUSDT_1h.csv` @ "
    "d47d8be0a6e0af23b0bf96f61e8a8c81ed4aea2d",
    "2024": "`ElvisTV/backtestingbots_s1` `data/ETHUSDT_1h.csv` @ 043c8c499bd47b33ca0d0fd2eb021fe992a2cfa4",
}
AAVE_REPO = "`MSCA-DN-Digital-Finance/stablecoin-onchain-data` @ 4dbee1b549c449de775a25e4558f5a94871ae0da"
GAS_REPO = (
    "`cagatayozbek/ethereum-gas-price-prediction` `data/export-AvgGasPrice.csv` @ "
    "493ea3b414710e8d364051eed8f9b0540b4d231a"
)
EVENTS_REPO = (
    "`TheRensselaerIDEA/IDEA-Blockchain` `DefiResearch/Data/liquidations.csv` @ "
    "711013a0c0021e4607368fa594a035604db599ac"
)
SNAPSHOT_REPO = (
    "`lidofinance/aave-liquidation-model` `data/steth_aave.csv` + `data/steth_aave_v3.csv` @ "
    "a44561e9c62438e3987437218a40f82d9898b8a1 (GPL-3.0; data values only)"
)


def eth_source(w: Window) -> str:
    """The Binance copy the shared file took the window's hours from (splice dates in shared/data/README.md)."""
    if w.end.isoformat() <= "2022-10-10":
        return BINANCE_ETH["2021"]
    if w.end.isoformat() <= "2023-12-31":
        return BINANCE_ETH["2022b"]
    return BINANCE_ETH["2024"]


@dataclass(frozen=True)
class Extract:
    """One source file: which rows of it are kept, and which columns."""

    relpath: str
    source: str
    keep_columns: tuple[str, ...] | None  # None: all
    row_window: Callable[[dict[str, str]], Window | None] | None  # None: every row
    note: str


def in_window(
    stamp_of: Callable[[dict[str, str]], str], windows: tuple[Window, ...], context_days: int = CONTEXT_DAYS
) -> Callable[..., Window | None]:
    def which(row: dict[str, str]) -> Window | None:
        stamp = stamp_of(row)
        for w in windows:
            first = w.first_hour - pd.Timedelta(days=context_days)
            # ISO strings compare in time order; the end is exclusive (first hour after the window)
            if first.strftime("%Y-%m-%dT%H") <= stamp[:13] < w.end_hour.strftime("%Y-%m-%dT%H"):
                return w
        return None

    return which


def extracts() -> list[Extract]:
    v2 = tuple(w for w in WINDOWS if w.version == "v2")
    v3 = tuple(w for w in WINDOWS if w.version == "v3")
    ts: Callable[[dict[str, str]], str] = lambda row: row["timestamp"]  # noqa: E731
    out = [
        Extract(
            "eth_usd_1h.csv",
            "Binance ETHUSDT hourly klines; per window: " + "; ".join(f"{w.name}: {eth_source(w)}" for w in WINDOWS),
            None,
            in_window(ts, WINDOWS),
            "rows copied verbatim (all columns)",
        ),
        Extract(
            "eth_usd_1d.csv",
            "Binance ETHUSDT hourly klines aggregated per UTC day by the shared data's maintainers (same sources as "
            "`eth_usd_1h.csv`)",
            None,
            in_window(ts, WINDOWS, DAILY_CONTEXT_DAYS),
            f"rows of each window and the {DAILY_CONTEXT_DAYS} days before it, copied verbatim (all columns)",
        ),
        Extract(
            "onchain/gas_price_1d.csv",
            GAS_REPO,
            None,
            in_window(ts, WINDOWS),
            "rows copied verbatim (all columns)",
        ),
        Extract(
            "onchain/aave_steth_positions_2023-06.csv",
            SNAPSHOT_REPO,
            (
                "version",
                "value_unit",
                "collateral",
                "debt",
                "threshold_bps",
                "ltv_bps",
                "health_factor",
                "emode",
                "lst_symbol",
                "weth_debt_amount",
                "eth_price_usd",
            ),
            None,
            "every row (the whole snapshot); dropped columns: user (addresses), available_borrow, lst_amount, "
            "lst_value, reth_amount, cbeth_amount, lst_price_usd; values copied verbatim",
        ),
        Extract(
            "onchain/aave_v2_liquidations.csv",
            EVENTS_REPO,
            ("timestamp", "market", "collateral_symbol", "collateral_amount", "debt_symbol", "debt_amount"),
            None,  # filtered below: WETH collateral in a v2 window
            "rows with collateral_symbol WETH inside a v2 window (the file ends 2022-04-03, so only 2021-05); "
            "dropped columns: user, liquidator (addresses); values copied verbatim",
        ),
    ]
    for version, windows in (("v2", v2), ("v3", v3)):
        for asset in ("weth", *STABLES):
            out.append(
                Extract(
                    f"onchain/aave_{version}_{asset}_1h.csv",
                    f"{AAVE_REPO} `data/AAVE/aave_{version}_{asset}_eth.parquet` (Messari-schema subgraph)",
                    ("timestamp", "block", "supplied_usd", "borrowed_usd", "liquidated_usd"),
                    in_window(ts, windows),
                    "rows of the market's windows; dropped columns: lender_variable_apr_pct, "
                    "borrower_variable_apr_pct, borrower_stable_apr_pct; values copied verbatim",
                )
            )
    return out


def copy_rows(ex: Extract, data_dir: Path, out_dir: Path) -> tuple[str, dict[str, int], int]:
    """Copy the kept rows and columns; returns the source's sha256, rows per window, and total rows."""
    src = data_dir / ex.relpath
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = out_dir / ex.relpath
    dst.parent.mkdir(parents=True, exist_ok=True)
    per_window: dict[str, int] = {}
    total = 0
    with src.open(newline="") as f, dst.open("w", newline="") as g:
        reader = csv.DictReader(f)
        assert reader.fieldnames is not None
        columns = list(ex.keep_columns or reader.fieldnames)
        writer = csv.DictWriter(g, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        events = ex.relpath.endswith("aave_v2_liquidations.csv")
        which = ex.row_window
        if events:
            which = in_window(lambda r: r["timestamp"], tuple(w for w in WINDOWS if w.version == "v2"))
        for row in reader:
            if events and (row["collateral_symbol"] != "WETH" or row["market"] != "main"):
                continue
            w = which(row) if which is not None else None
            if which is not None and w is None:
                continue
            key = w.name if w is not None else "all"
            per_window[key] = per_window.get(key, 0) + 1
            total += 1
            writer.writerow({c: row[c] for c in columns})
    return digest, per_window, total


def provenance(rows: list[tuple[Extract, str, dict[str, int], int]], out_dir: Path) -> str:
    lines = [
        "# Provenance of the embedded Aave crisis history",
        "",
        "Written by `tools/make_history_extract.py` (do not edit by hand; re-run it). Source: `../shared/data`, "
        "documented in its `README.md` (Binance hourly) and `onchain/README.md` (sections 1 reserves, 2 gas, "
        "3 v2 events, 8 borrower snapshot). Values are copied as text, unchanged; only rows outside the windows "
        f"(each window's days plus {CONTEXT_DAYS} days before its start) and unused columns are left out. "
        "Files keep the source's relative paths, so `oracle.data.aave_history` reads this directory and "
        "`../shared/data` the same way.",
        "",
        "## Windows",
        "",
        "| window | market | days (UTC, inclusive) | rows from | use |",
        "|---|---|---|---|---|",
    ]
    for w in WINDOWS:
        use = "fit" if w.fitted else "out of sample (never fitted)"
        lines.append(
            f"| {w.name} ({w.label}) | Aave {w.version} | {w.start} – {w.end} | "
            f"{w.context_start.strftime('%Y-%m-%dT%H')} | {use} |"
        )
    lines += ["", "## Files", "", "| file | source | source sha256 | rows taken | bytes | transformation |"]
    lines.append("|---|---|---|---|---|---|")
    for ex, digest, per_window, total in rows:
        taken = ", ".join(f"{k}: {v}" for k, v in per_window.items()) or "0"
        size = (out_dir / ex.relpath).stat().st_size
        lines.append(f"| `{ex.relpath}` | {ex.source} | `{digest[:16]}…` | {total} ({taken}) | {size:,} | {ex.note} |")
    lines += [
        "",
        "Full sha256 of each source file:",
        "",
        *[f"- `{ex.relpath}`: `{digest}`" for ex, digest, _, _ in rows],
        "",
        "## Checks and notes",
        "",
        "- Aave v3 WETH parameters in 2024-08 are not in these files: `onchain/aave_v3_ethereum_param_changes.csv` "
        "(governance payload diffs 2023-11-27 – 2024-12-23) has no WETH row, so WETH kept the values set by the "
        "Chaos Labs AIP of 2023-05-29 (`aave/aip` `content/aips/CHAOS-LABS-RISK-PARAMS-ETH-20230529.md`): "
        "LTV 8050, LT 8300, bonus 500. Aave v2 WETH: LTV 8000, LT 8250, bonus 10500 raw (500) as deployed "
        "(`aave/protocol-v2` `markets/aave/reservesConfigs.ts`); the 2021-05 events in this extract give a median "
        "seized value (WETH x Binance close) / repaid stable debt of 1.050.",
        "- `liquidated_usd` of a WETH reserve counts only liquidations whose collateral was WETH, valued at the Aave "
        "oracle price with the bonus included (onchain README section 1).",
        "- The snapshot (section 8) is of 2023-06-19/20, (w)stETH-collateral accounts; its v2 values are in ETH "
        "(the loaders convert at the snapshot's ETH oracle price, 1,719.90 USD).",
        "",
    ]
    return "\n".join(lines)


def main(data_dir: Path) -> None:
    out_dir = HISTORY_DIR
    rows = []
    for ex in extracts():
        digest, per_window, total = copy_rows(ex, data_dir, out_dir)
        rows.append((ex, digest, per_window, total))
    (out_dir / "PROVENANCE.md").write_text(provenance(rows, out_dir))
    size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    print(f"wrote {len(rows)} files and PROVENANCE.md to {out_dir.relative_to(REPO)} ({size / 1e3:,.0f} kB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data")
