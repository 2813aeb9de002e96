"""Export ABI, creation bytecode and storage layout of every deployable contract from forge's `out/` into `abi/`.

Why: the Python side deploys and calls the contracts from these committed JSON files, so that it needs no
compiler at run time; `tests/test_tooling.py` recompiles and fails when they are stale.
Usage: python tools/export_abi.py OUT_DIR ABI_DIR
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# source file -> contract name: the contracts the oracle deploys or talks to
DEPLOYABLE: dict[str, str] = {
    "RiskParameterGovernor.sol": "RiskParameterGovernor",
    "LendingMarket.sol": "LendingMarket",
    "PriceFeed.sol": "PriceFeed",
    "TestToken.sol": "TestToken",
    "Multicall3.sol": "Multicall3",
    "AaveV3RiskTarget.sol": "AaveV3RiskTarget",
    "PriceFeedSource.sol": "PriceFeedSource",
}

# solc appends AST ids to named types (`t_struct(CollateralConfig)1825_storage`): they change whenever a source file
# is added before this one, so they are dropped (an array length after a type, `...)3_storage`, stays)
_AST_ID = re.compile(r"(t_(?:struct|enum|contract|userDefinedValueType)\([^()]*\))\d+")


def _stable_type(t: str) -> str:
    return _AST_ID.sub(r"\1", t)


def export(out_dir: Path, abi_dir: Path) -> list[Path]:
    """Write `abi_dir/<Name>.json` with `{contractName, abi, bytecode}` for each deployable contract."""
    abi_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name in DEPLOYABLE.items():
        artifact = json.loads((out_dir / source / f"{name}.json").read_text())
        payload = {
            "contractName": name,
            "abi": artifact["abi"],
            "bytecode": artifact["bytecode"]["object"],
            # slot of each state variable: local seeding writes state directly on anvil (oracle/chain/storage.py)
            "storageLayout": {
                s["label"]: {"slot": int(s["slot"]), "offset": s["offset"], "type": _stable_type(s["type"])}
                for s in artifact.get("storageLayout", {}).get("storage", [])
            },
        }
        path = abi_dir / f"{name}.json"
        path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    for p in export(Path(sys.argv[1]), Path(sys.argv[2])):
        print(f"wrote {p}")
