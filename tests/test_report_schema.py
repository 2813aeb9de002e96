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


def testjson_differences_tolerate_float_noise_only() -> None:
    a = {"x": 1.0, "y": [1, 2, {"z": "s"}], "w": None}
    assert json_differences(a, {"x": 1.0 + 1e-12, "y": [1, 2, {"z": "s"}], "w": None}) == []
    assert json_differences(a, {"x": 1.001, "y": [1, 2, {"z": "s"}], "w": None}) == [".x: 1.0 != 1.001"]
    assert json_differences(a, {"x": 1.0, "y": [1, 3, {"z": "s"}], "w": None}) == [".y[1]: 2 != 3"]
    assert json_differences(a, {"x": 1.0, "y": [1, 2], "w": None}) == [".y: length 3 != 2"]
    assert json_differences(a, {"x": 1.0, "y": [1, 2, {"z": "t"}], "w": 0.0}) == [
        ".y[2].z: 's' != 't'",
        ".w: None != 0.0",
    ]
