"""Earlier cycles' recommendations for the report's "past recommendations vs what happened" section.

Why here and not in the pure builder: it reads the journal (what was recommended and sent) and the chain (block
times, the market's ``Liquidated`` events since); the result goes into ``ReportInputs.past`` so the rest of the
report stays a pure function of ``report.json``.
"""

from __future__ import annotations

import math
from collections import Counter

from web3 import Web3

from oracle.domain.snapshot import MarketSnapshot
from oracle.execution.journal import Journal
from oracle.pipeline import AssetRecommendation
from oracle.report.schema import PastRecommendation

PAST_CYCLES = 5
LIQUIDATED_TOPIC = Web3.keccak(text="Liquidated(address,address,address,uint256,uint256)").to_0x_hex()


def _liquidations_by_asset(w3: Web3, market: str, from_block: int, to_block: int) -> Counter[str]:
    """``Liquidated`` events of the market in [from_block, to_block], counted by collateral asset (lower-case)."""
    if from_block > to_block:
        return Counter()
    logs = w3.eth.get_logs(
        {
            "address": Web3.to_checksum_address(market),
            "topics": [LIQUIDATED_TOPIC],
            "fromBlock": from_block,
            "toBlock": to_block,
        }
    )
    return Counter("0x" + bytes(log["topics"][3])[-20:].hex() for log in logs)


def past_recommendations(
    journal: Journal, w3: Web3, snapshot: MarketSnapshot, limit: int = PAST_CYCLES
) -> tuple[PastRecommendation, ...]:
    """The last ``limit`` completed cycles on this chain before the snapshot's block, newest first; assets are
    matched by address and shown under their current symbol (assets no longer listed are left out)."""
    cycles = [
        c
        for c in journal.cycles()
        if c.status == "done"
        and c.chain_id == snapshot.chain_id
        and c.block is not None
        and c.block < snapshot.block_number
    ][-limit:]
    mined = {(a.cycle_id, a.symbol) for a in journal.attempts(statuses=("mined",))}
    symbols = {a.address.lower(): a.symbol for a in snapshot.assets}
    out: list[PastRecommendation] = []
    for cycle in reversed(cycles):
        block = cycle.block
        assert block is not None  # filtered above
        timestamp = int(w3.eth.get_block(block)["timestamp"])
        liquidations = _liquidations_by_asset(w3, snapshot.market, block + 1, snapshot.block_number)
        for row in journal.recommendations(cycle.id):
            rec = AssetRecommendation.model_validate_json(row.record)
            symbol = symbols.get(row.asset.lower())  # by address: a symbol is a label its token may change
            if rec.bounded is None or symbol is None:
                continue
            sent = (cycle.id, row.symbol) in mined
            sigma = rec.features.sigma_1d
            out.append(
                PastRecommendation(
                    cycle_id=cycle.id,
                    block=block,
                    timestamp=timestamp,
                    asset=symbol,
                    sigma_1d=sigma,
                    var99_1d=1 - math.exp(-rec.features.tail_q99 * sigma),
                    params=rec.bounded.bounded if sent else rec.bounded.current,
                    sent=sent,
                    liquidations_since=liquidations[row.asset.lower()],
                )
            )
    return tuple(out)
