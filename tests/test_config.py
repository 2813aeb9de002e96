"""Settings and policy files: valid ones load, malformed ones fail with a message naming file and field,
and keys never print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oracle.config import DEFAULT_POLICY, load_policy, load_settings
from oracle.errors import ConfigError

KEY = "0x" + "12" * 32


def test_default_policy_loads() -> None:
    policy = load_policy()
    assert [a.symbol for a in policy.market.assets] == ["WETH", "WBTC", "LINK", "AAVE"]
    assert policy.update.valid_for_s == 6 * 3600


def test_settings_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "oracle.toml"
    path.write_text(f'rpc_url = "http://10.0.0.1:8545"\nrpc_timeout_s = 3\ndeployer_key = "{KEY}"\n')
    monkeypatch.setenv("ORACLE_RPC_TIMEOUT_S", "7.5")
    settings = load_settings(path)
    assert settings.rpc_url == "http://10.0.0.1:8545"
    assert settings.rpc_timeout_s == 7.5  # the environment wins over the file
    assert settings.deployer_key is not None and settings.deployer_key.get_secret_value() == KEY
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rpc_url = "unterminated\n', "not valid TOML"),
        ("rpc_timeout_s = -1\n", "rpc_timeout_s"),
        ("unknown_field = 1\n", "unknown_field"),
        ('governor = "0x1234"\n', "governor"),
    ],
)
def test_malformed_settings(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_settings(path)


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("ltv = 8000, liquidation_threshold = 8250", "ltv = 8300, liquidation_threshold = 8250", "LTV < LT"),
        ("min = 5000, max = 8500", "min = 8100, max = 8500", "outside bounds"),
        ("min = 5000, max = 8500", "min = 9000, max = 8500", "min 9000 > max 8500"),
        ("valid_for_s = 21600", "valid_for_s = 0", "update.valid_for_s"),
        ('symbol = "WBTC"', 'symbol = "WETH"', "duplicate asset symbols"),
        ("liquidity = 50_000_000", "liquidity = [1]", "market.liquidity"),
        ("[update]", "[update\n", "not valid TOML"),
    ],
)
def test_malformed_policy(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = DEFAULT_POLICY.read_text()
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=expected) as err:
        load_policy(path)
    assert str(path) in str(err.value)


def test_missing_policy(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="policy file not found"):
        load_policy(tmp_path / "nope.toml")


def test_execution_limits_nest_and_keeper_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eth_account import Account

    from oracle.config import load_keeper_account
    from oracle.devnet.anvil import ANVIL_KEEPER_KEY

    monkeypatch.setenv("ORACLE_EXECUTION__MAX_FEE_GWEI", "5")
    settings = load_settings()
    assert settings.execution.max_fee_gwei == 5 and settings.execution.max_bumps == 3
    with pytest.raises(ConfigError, match="no keeper key"):
        load_keeper_account(settings)

    monkeypatch.setenv("ORACLE_KEEPER_KEY", ANVIL_KEEPER_KEY)
    account = load_keeper_account(load_settings())
    assert account.address == Account.from_key(ANVIL_KEEPER_KEY).address
    assert ANVIL_KEEPER_KEY[2:] not in repr(load_settings())  # SecretStr: never printed
    monkeypatch.setenv("ORACLE_KEEPER_KEY", "0x1234")
    with pytest.raises(ConfigError, match="not a valid private key") as err:
        load_keeper_account(load_settings())
    assert "1234" not in str(err.value)

    monkeypatch.delenv("ORACLE_KEEPER_KEY")
    keystore = tmp_path / "keeper.json"
    keystore.write_text(json.dumps(Account.encrypt(ANVIL_KEEPER_KEY, "pw", iterations=2)))
    monkeypatch.setenv("ORACLE_KEEPER_KEYSTORE", str(keystore))
    monkeypatch.setenv("ORACLE_KEEPER_KEYSTORE_PASSWORD", "pw")
    assert load_keeper_account(load_settings()).address == account.address
    monkeypatch.setenv("ORACLE_KEEPER_KEYSTORE_PASSWORD", "wrong")
    with pytest.raises(ConfigError, match="wrong password"):
        load_keeper_account(load_settings())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("inf", "finite number"),
        ("1e400", "finite number"),  # parses to inf
        ("nan", "finite number"),
        ("-1", "greater than 0"),
        ("1e9", "less than or equal to 10000"),
    ],
)
def test_fee_cap_must_be_finite_and_sane(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    """An infinite, NaN, negative or absurd fee cap would switch the cap off (or refuse everything): refused."""
    monkeypatch.setenv("ORACLE_EXECUTION__MAX_FEE_GWEI", value)
    with pytest.raises(ConfigError, match=rf"execution\.max_fee_gwei: .*{expected}"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "value", "field"),
    [
        ("MAX_SPEND_PER_DAY_ETH", "inf", "max_spend_per_day_eth"),
        ("MAX_SPEND_PER_DAY_ETH", "101", "max_spend_per_day_eth"),
        ("RECEIPT_TIMEOUT_S", "3601", "receipt_timeout_s"),
        ("POLL_S", "nan", "poll_s"),
        ("POLL_S", "61", "poll_s"),
        ("BUMP_PCT", "inf", "bump_pct"),
        ("RECEIPT_GRACE_S", "1e400", "receipt_grace_s"),
    ],
)
def test_every_execution_limit_is_finite_and_bounded(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, field: str
) -> None:
    monkeypatch.setenv(f"ORACLE_EXECUTION__{env}", value)
    with pytest.raises(ConfigError, match=rf"execution\.{field}:"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("PRIORITY_FEE_GWEI", "201"),  # above the default max fee of 200 gwei
        ("MAX_FEE_GWEI", "1"),  # below the default tip of 1.5 gwei: the default is checked too
    ],
)
def test_the_tip_never_exceeds_the_fee_cap(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(f"ORACLE_EXECUTION__{env}", value)
    with pytest.raises(ConfigError, match=r"execution: .*priority_fee_gwei .* exceeds max_fee_gwei"):
        load_settings()


def test_tip_up_to_the_cap_and_the_maxima_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_EXECUTION__MAX_FEE_GWEI", "10000")
    monkeypatch.setenv("ORACLE_EXECUTION__PRIORITY_FEE_GWEI", "10000")
    monkeypatch.setenv("ORACLE_EXECUTION__MAX_SPEND_PER_DAY_ETH", "100")
    fees = load_settings().execution
    assert (fees.max_fee_gwei, fees.priority_fee_gwei, fees.max_spend_per_day_eth) == (10_000, 10_000, 100)


def test_an_infinite_cap_in_the_settings_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "oracle.toml"
    path.write_text("[execution]\nmax_fee_gwei = inf\n")  # valid TOML: inf is a float literal
    with pytest.raises(ConfigError, match=r"execution\.max_fee_gwei: Input should be a finite number") as err:
        load_settings(path)
    assert str(path) in str(err.value)
