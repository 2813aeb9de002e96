"""Expected failures end in one clear line and a non-zero exit code, not a traceback (no chain needed)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from oracle.cli import app
from oracle.daemon import KeeperMetrics, serve_metrics
from oracle.errors import ConfigError

ADDRESSES = {
    "ORACLE_MARKET": "0x" + "11" * 20,
    "ORACLE_GOVERNOR": "0x" + "22" * 20,
    "ORACLE_MULTICALL": "0x" + "33" * 20,
    "COLUMNS": "200",
}


class _NotANode(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b"<html>a web page, not a node</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def web_page() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotANode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _one_line_error(output: str, *fragments: str) -> None:
    assert "Traceback" not in output, output
    (line,) = [ln for ln in output.splitlines() if ln.startswith("error:")]
    for fragment in fragments:
        assert fragment in line, line


def test_an_rpc_url_that_is_not_a_node_is_named(web_page: str) -> None:
    result = CliRunner().invoke(app, ["snapshot", "--rpc", web_page], env=ADDRESSES)
    assert result.exit_code == 2, result.output
    _one_line_error(result.output, web_page, "is not a JSON-RPC node")


def test_an_rpc_url_that_is_not_a_url_is_named() -> None:
    result = CliRunner().invoke(app, ["snapshot", "--rpc", "localhost8545"], env=ADDRESSES)
    assert result.exit_code == 2, result.output
    _one_line_error(result.output, "'localhost8545'", "http")


def test_a_negative_block_is_refused_before_anything_runs() -> None:
    result = CliRunner().invoke(app, ["snapshot", "--block", "-1"], env=ADDRESSES)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value for '--block'" in result.output and "greater than or equal to 0" in result.output


def test_missing_price_history_is_named() -> None:
    result = CliRunner().invoke(app, ["train"], env={"COLUMNS": "200", "ORACLE_DATA_DIR": None})
    assert result.exit_code == 2, result.output
    _one_line_error(result.output, "--data-dir")


def test_a_metrics_port_in_use_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"metrics port 127.0.0.1:{port} cannot be served"):
            serve_metrics(KeeperMetrics(), port, 10.0)


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-1", "1e9"])
def test_an_insane_fee_cap_is_one_line_and_exit_2(value: str) -> None:
    """The settings are refused before any RPC is touched: the error names the field, no traceback."""
    env = ADDRESSES | {"ORACLE_EXECUTION__MAX_FEE_GWEI": value}
    result = CliRunner().invoke(app, ["snapshot", "--rpc", "http://127.0.0.1:9"], env=env)
    assert result.exit_code == 2, result.output
    _one_line_error(result.output, "invalid settings", "execution.max_fee_gwei")


def test_demo_positions_have_a_stated_maximum() -> None:
    """Refused by the option itself, before anvil starts (1,000,000 used to run for minutes, unbounded)."""
    result = CliRunner().invoke(app, ["demo", "--positions", "1000000"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value for '--positions'" in result.output and "less than or equal to 5000" in result.output
