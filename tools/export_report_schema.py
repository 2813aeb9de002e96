"""Write the JSON Schema of ``report.json`` to ``schemas/report.schema.json`` (tests/test_report_schema.py fails
when the committed file is stale)."""

from __future__ import annotations

import sys
from pathlib import Path

from oracle.report.schema import report_json_schema

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "schemas" / "report.schema.json"
    target.write_text(report_json_schema())
    print(f"wrote {target}")
