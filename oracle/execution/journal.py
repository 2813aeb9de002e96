"""The keeper's journal: a SQLite file of cycles, recommendations and every transaction attempt.

Why write-ahead: an attempt is recorded (signed raw transaction, hash, nonce, fees) *before* it is broadcast, and
updated after. A keeper killed between the two finds the attempt on restart and reconciles it with the chain (by
hash, then by nonce) instead of signing a second update: at most one transaction per nonce can land, and the
journal always holds the one that did. Every write is its own committed transaction (WAL mode), so a crash loses
at most the write in flight.
"""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

AttemptStatus = Literal["signed", "sent", "mined", "reverted", "replaced", "dropped"]
CycleStatus = Literal["running", "done", "paused", "failed", "abandoned"]
OPEN_STATUSES: tuple[AttemptStatus, ...] = ("signed", "sent")

SCHEMA = """
CREATE TABLE IF NOT EXISTS cycles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    chain_id INTEGER,
    block INTEGER,
    dry_run INTEGER NOT NULL,
    status TEXT NOT NULL,             -- running, done, paused, failed, abandoned
    report_hash TEXT,
    detail TEXT,
    report BLOB,                      -- report.json of the cycle, zlib-compressed (`risk-oracle report`)
    report_dir TEXT,                  -- the directory its report was written to
    seal TEXT                         -- seal.json of the report (hash, transactions, what was not sent)
);
CREATE TABLE IF NOT EXISTS recommendations (
    cycle_id INTEGER NOT NULL REFERENCES cycles(id),
    symbol TEXT NOT NULL,
    asset TEXT NOT NULL,
    proposed INTEGER NOT NULL,
    outcome TEXT NOT NULL,            -- proposed, no-change, gated: <reason>, ...
    record TEXT NOT NULL,             -- the AssetRecommendation as JSON
    PRIMARY KEY (cycle_id, symbol)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cycle_id INTEGER NOT NULL REFERENCES cycles(id),
    symbol TEXT NOT NULL,
    asset TEXT NOT NULL,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    tx_hash TEXT NOT NULL UNIQUE,
    raw_tx TEXT NOT NULL,
    gas_limit INTEGER NOT NULL,
    max_fee_per_gas INTEGER NOT NULL,
    priority_fee_per_gas INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    block INTEGER,
    gas_used INTEGER,
    effective_gas_price INTEGER,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_nonce ON attempts (sender, nonce);
"""


class Attempt(BaseModel):
    """One signed transaction, as journaled."""

    model_config = ConfigDict(frozen=True)

    id: int
    cycle_id: int
    symbol: str
    asset: str
    sender: str
    nonce: int
    tx_hash: str
    raw_tx: str
    gas_limit: int
    max_fee_per_gas: int
    priority_fee_per_gas: int
    status: AttemptStatus
    created_at: float
    updated_at: float
    block: int | None
    gas_used: int | None
    effective_gas_price: int | None
    detail: str | None


class CycleRecord(BaseModel):
    """One cycle as the journal holds it (the stored report.json is read with ``Journal.cycle_report``)."""

    model_config = ConfigDict(frozen=True)

    id: int
    started_at: float
    finished_at: float | None
    chain_id: int | None
    block: int | None
    dry_run: bool
    status: CycleStatus
    report_hash: str | None
    detail: str | None
    report_dir: str | None = None


class RecommendationRecord(BaseModel):
    """One asset's recommendation in a cycle: ``record`` is the ``AssetRecommendation`` as JSON."""

    model_config = ConfigDict(frozen=True)

    cycle_id: int
    symbol: str
    asset: str
    proposed: bool
    outcome: str
    record: str


_CYCLE_COLUMNS = ", ".join(CycleRecord.model_fields)


class Journal:
    """The journal file; one instance per process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(cycles)")}
        if "report" not in columns:  # a journal written before reports were stored
            self._db.execute("ALTER TABLE cycles ADD COLUMN report BLOB")
        for column in ("report_dir", "seal"):  # a journal written before these were recorded
            if column not in columns:
                self._db.execute(f"ALTER TABLE cycles ADD COLUMN {column} TEXT")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ cycles
    def start_cycle(self, dry_run: bool) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO cycles (started_at, dry_run, status) VALUES (?, ?, 'running')", (time.time(), int(dry_run))
            )
            assert cur.lastrowid is not None  # an INSERT sets it
            return int(cur.lastrowid)

    def set_cycle_block(self, cycle_id: int, chain_id: int, block: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE cycles SET chain_id = ?, block = ? WHERE id = ?", (chain_id, block, cycle_id))

    def set_cycle_report(self, cycle_id: int, report_json: str, report_dir: Path | None = None) -> None:
        """Store the cycle's ``report.json`` (before anything is sent) and the directory it was written to,
        compressed: the snapshot in it makes a few hundred KB that zlib shrinks about sixfold, and a daemon writes
        one per cycle."""
        with self._tx() as db:
            db.execute(
                "UPDATE cycles SET report = ?, report_dir = ? WHERE id = ?",
                (zlib.compress(report_json.encode()), None if report_dir is None else str(report_dir), cycle_id),
            )

    def set_cycle_seal(self, cycle_id: int, seal_json: str) -> None:
        """Store the seal written into the cycle's report (``risk-oracle report`` re-renders it)."""
        with self._tx() as db:
            db.execute("UPDATE cycles SET seal = ? WHERE id = ?", (seal_json, cycle_id))

    def cycle_seal(self, cycle_id: int) -> str | None:
        """The stored seal JSON of a cycle, if its report was sealed."""
        row = self._db.execute("SELECT seal FROM cycles WHERE id = ?", (cycle_id,)).fetchone()
        return None if row is None else row["seal"]

    def cycle_report(self, cycle_id: int) -> str | None:
        """The stored ``report.json`` of a cycle, if it got that far."""
        row = self._db.execute("SELECT report FROM cycles WHERE id = ?", (cycle_id,)).fetchone()
        return None if row is None or row["report"] is None else zlib.decompress(row["report"]).decode()

    def finish_cycle(
        self, cycle_id: int, status: CycleStatus, report_hash: str | None = None, detail: str = ""
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE cycles SET finished_at = ?, status = ?, report_hash = ?, detail = ? WHERE id = ?",
                (time.time(), status, report_hash, detail, cycle_id),
            )

    def abandon_running(self) -> int:
        """Mark cycles a previous process left running as abandoned; returns how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE cycles SET status = 'abandoned', finished_at = ? WHERE status = 'running'", (time.time(),)
            )
            return cur.rowcount

    def cycles(self) -> list[CycleRecord]:
        """Every cycle, oldest first."""
        rows = self._db.execute(f"SELECT {_CYCLE_COLUMNS} FROM cycles ORDER BY id")
        return [CycleRecord(**dict(r)) for r in rows]

    def cycle(self, cycle_id: int) -> CycleRecord | None:
        """Cycle ``cycle_id``, or ``None`` when the journal has none by that id."""
        row = self._db.execute(f"SELECT {_CYCLE_COLUMNS} FROM cycles WHERE id = ?", (cycle_id,)).fetchone()
        return None if row is None else CycleRecord(**dict(row))

    # ------------------------------------------------------------------ recommendations
    def record_recommendation(
        self, cycle_id: int, symbol: str, asset: str, proposed: bool, outcome: str, record: str
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO recommendations VALUES (?, ?, ?, ?, ?, ?)",
                (cycle_id, symbol, asset, int(proposed), outcome, record),
            )

    def recommendations(self, cycle_id: int) -> list[RecommendationRecord]:
        """The cycle's recommendations, by symbol."""
        rows = self._db.execute("SELECT * FROM recommendations WHERE cycle_id = ? ORDER BY symbol", (cycle_id,))
        return [RecommendationRecord(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ attempts
    def record_signed(
        self,
        *,
        cycle_id: int,
        symbol: str,
        asset: str,
        sender: str,
        nonce: int,
        tx_hash: str,
        raw_tx: str,
        gas_limit: int,
        max_fee_per_gas: int,
        priority_fee_per_gas: int,
    ) -> Attempt:
        """Write-ahead: the signed transaction, before it is broadcast."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO attempts (cycle_id, symbol, asset, sender, nonce, tx_hash, raw_tx, gas_limit, "
                "max_fee_per_gas, priority_fee_per_gas, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'signed', ?, ?)",
                (
                    cycle_id,
                    symbol,
                    asset,
                    sender,
                    nonce,
                    tx_hash,
                    raw_tx,
                    gas_limit,
                    max_fee_per_gas,
                    priority_fee_per_gas,
                    now,
                    now,
                ),
            )
            assert cur.lastrowid is not None  # an INSERT sets it
            return self.attempt(int(cur.lastrowid))

    def set_status(
        self,
        tx_hash: str,
        status: AttemptStatus,
        *,
        block: int | None = None,
        gas_used: int | None = None,
        effective_gas_price: int | None = None,
        detail: str = "",
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE attempts SET status = ?, updated_at = ?, block = COALESCE(?, block), "
                "gas_used = COALESCE(?, gas_used), effective_gas_price = COALESCE(?, effective_gas_price), "
                "detail = ? WHERE tx_hash = ?",
                (status, time.time(), block, gas_used, effective_gas_price, detail, tx_hash),
            )

    def attempt(self, attempt_id: int) -> Attempt:
        row = self._db.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
        return Attempt(**dict(row))

    def attempts(
        self, *, cycle_id: int | None = None, statuses: tuple[AttemptStatus, ...] | None = None
    ) -> list[Attempt]:
        query, args = "SELECT * FROM attempts WHERE 1 = 1", list[int | str]()
        if cycle_id is not None:
            query += " AND cycle_id = ?"
            args.append(cycle_id)
        if statuses is not None:
            query += f" AND status IN ({', '.join('?' for _ in statuses)})"
            args.extend(statuses)
        return [Attempt(**dict(r)) for r in self._db.execute(query + " ORDER BY id", args)]

    def open_attempts(self, sender: str) -> list[Attempt]:
        """Attempts of ``sender`` whose fate the journal does not know yet (signed or sent, not settled)."""
        return [a for a in self.attempts(statuses=OPEN_STATUSES) if a.sender == sender]

    def spent_since(self, sender: str, since: float) -> int:
        """Wei spent on gas by ``sender``'s mined or reverted attempts since ``since`` (unix time)."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(gas_used * effective_gas_price), 0) FROM attempts "
            "WHERE sender = ? AND status IN ('mined', 'reverted') AND updated_at >= ?",
            (sender, since),
        ).fetchone()
        return int(row[0])
