"""The report's contract pieces that need no chain: the committed JSON Schema is current, the seal block is the
only part of a sealed file the manifest ignores, and verify's comparison tolerates float noise only."""

from __future__ import annotations

import hashlib
from pathlib import Path

from oracle.report.render import unsealed
from oracle.report.schema import report_json_schema
from oracle.report.verify import json_differences

SCHEMA = Path(__file__).parents[1] / "schemas" / "report.schema.json"


def test_committed_json_schema_matches_the_code() -> None:
    assert SCHEMA.read_text() == report_json_schema(), "stale: run .venv/bin/python tools/export_report_schema.py"


def test_unsealed_empties_only_the_seal_block() -> None:
    body = b"# title\n<!-- seal -->\n**Report hash** `0xabc`\n<!-- /seal -->\n## Summary\n"
    resealed = body.replace(b"0xabc", b"0xdef")
    assert unsealed(body) == unsealed(resealed) == b"# title\n<!-- seal --><!-- /seal -->\n## Summary\n"
    changed = body.replace(b"Summary", b"Summery")
    assert hashlib.sha256(unsealed(changed)).digest() != hashlib.sha256(unsealed(body)).digest()
    assert unsealed(b"\xff\xfe broken <!-- seal -->x<!-- /seal -->") == b"\xff\xfe broken <!-- seal --><!-- /seal -->"


def test_json_differences_tolerate_float_noise_only() -> None:
    a = {"x": 1.0, "y": [1, 2, {"z": "s"}], "w": None}
    assert json_differences(a, {"x": 1.0 + 1e-12, "y": [1, 2, {"z": "s"}], "w": None}) == []
    assert json_differences(a, {"x": 1.001, "y": [1, 2, {"z": "s"}], "w": None}) == [".x: 1.0 != 1.001"]
    assert json_differences(a, {"x": 1.0, "y": [1, 3, {"z": "s"}], "w": None}) == [".y[1]: 2 != 3"]
    assert json_differences(a, {"x": 1.0, "y": [1, 2], "w": None}) == [".y: length 3 != 2"]
    assert json_differences(a, {"x": 1.0, "y": [1, 2, {"z": "t"}], "w": 0.0}) == [
        ".y[2].z: 's' != 't'",
        ".w: None != 0.0",
    ]
    # USD figures of the float32 cascade agree to a cent or a millionth (another CPU's summation order); no more
    usd = {"bad_debt_usd": 0.13045654296875, "liquidated_usd": 2.5e7}
    assert json_differences(usd, {"bad_debt_usd": 0.13045501708984375, "liquidated_usd": 2.5e7 + 20.0}) == []
    assert json_differences(usd, {"bad_debt_usd": 0.15, "liquidated_usd": 2.5e7 + 30.0}) == [
        ".bad_debt_usd: 0.13045654296875 != 0.15",
        ".liquidated_usd: 25000000.0 != 25000030.0",
    ]
    assert json_differences({"edges_usd": [0.34788411]}, {"edges_usd": [0.34788005]}) == []  # a list of USD
    assert json_differences({"share": 1e-4}, {"share": 1e-4 + 2e-6}) == [".share: 0.0001 != 0.000102"]
