"""A report written in an earlier format keeps verifying: today's renderer reproduces every file of a version-1
report (whose manifest hash went on chain) byte for byte, and today's pipeline agrees with its recommendation.
Chain-free: the fixture holds the report's inputs, manifest and seal (tests/fixtures/README.md)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from oracle.report.render import SEALED_FILES, Seal, render_files, unsealed
from oracle.report.schema import REPORT_VERSION, Report
from oracle.report.verify import _check_pipeline

FIXTURE = Path(__file__).parent / "fixtures" / "report-v1"


def test_a_version_1_report_re_renders_to_its_manifest_and_its_pipeline_agrees() -> None:
    raw = gzip.decompress((FIXTURE / "report.json.gz").read_bytes())
    report = Report.model_validate_json(raw)
    assert report.version == 1 < REPORT_VERSION
    listed = json.loads((FIXTURE / "manifest.json").read_text())["files"]
    seal = Seal.model_validate_json((FIXTURE / "seal.json").read_text())
    files = render_files(report, seal)
    assert set(files) == set(listed)
    assert hashlib.sha256(raw).hexdigest() == listed["report.json"]
    for name, data in files.items():
        digest = hashlib.sha256(unsealed(data) if name in SEALED_FILES else data).hexdigest()
        assert digest == listed[name], f"{name} no longer renders as it was published"
    checks = _check_pipeline(report, None)
    assert [c.name for c in checks] == ["forecasts", "recommendation", "report"]
    assert all(c.passed for c in checks), checks
