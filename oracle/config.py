"""Configuration: runtime settings (TOML file + ``ORACLE_*`` environment variables) and the policy file.

Why two files: settings say *where* the oracle runs (RPC, keys, addresses, directories) and differ per machine;
the policy (``policies/*.toml``) says *what* the oracle may do to a market (bounds, update lifetime, the demo
market's definition) and is reviewed like code. Keys are ``SecretStr`` so that they never print.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from oracle.domain.policy import Policy
from oracle.errors import ConfigError
from oracle.execution.submit import FeePolicy

DEFAULT_POLICY = Path(str(files("oracle").joinpath("policies", "default.toml")))

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class Settings(BaseSettings):
    """Where the oracle runs. Sources, highest priority first: constructor arguments, ``ORACLE_*`` environment
    variables, the TOML settings file."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_", env_nested_delimiter="__", extra="forbid", frozen=True)

    rpc_url: str = "http://127.0.0.1:8545"
    rpc_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    data_dir: Path | None = None
    governor: Address | None = None
    market: Address | None = None
    multicall: Address | None = None
    chain_id: Annotated[int | None, Field(gt=0, description="the chain the addresses are on (checked at start)")] = None
    deployer_key: SecretStr | None = None
    keeper_key: SecretStr | None = Field(default=None, description="hex private key of the keeper")
    keeper_keystore: Path | None = Field(default=None, description="encrypted keystore JSON (instead of a key)")
    keeper_keystore_password: SecretStr | None = None
    journal: Path = Field(default=Path("state/journal.sqlite"), description="the keeper's SQLite journal")
    reports_dir: Path = Path("reports")
    execution: FeePolicy = FeePolicy()


def load_keeper_account(settings: Settings) -> LocalAccount:
    """The keeper's account from ``keeper_key`` or the encrypted ``keeper_keystore``; the key is never printed."""
    if settings.keeper_key is not None:
        try:
            return Account.from_key(settings.keeper_key.get_secret_value())
        except ValueError:  # the message could echo the key: not chained
            raise ConfigError("ORACLE_KEEPER_KEY is not a valid private key") from None
    if settings.keeper_keystore is not None:
        if settings.keeper_keystore_password is None:
            raise ConfigError("keeper_keystore needs keeper_keystore_password (ORACLE_KEEPER_KEYSTORE_PASSWORD)")
        try:
            keystore = settings.keeper_keystore.read_text()
            key = Account.decrypt(keystore, settings.keeper_keystore_password.get_secret_value())
        except FileNotFoundError as exc:
            raise ConfigError(f"keystore not found: {settings.keeper_keystore}") from exc
        except ValueError:
            raise ConfigError(f"keystore {settings.keeper_keystore}: wrong password or not a keystore") from None
        return Account.from_key(key)
    raise ConfigError("no keeper key: set ORACLE_KEEPER_KEY or ORACLE_KEEPER_KEYSTORE (+ _PASSWORD)")


def load_settings(path: Path | None = None, **overrides: object) -> Settings:
    """Settings from ``path`` (TOML, optional) and the environment; a malformed file raises ``ConfigError``
    naming the file and the field."""
    if path is not None and not path.is_file():
        raise ConfigError(f"settings file not found: {path}")

    class _FromFile(Settings):
        model_config = SettingsConfigDict(toml_file=path)

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
            if path is not None:
                sources += (TomlConfigSettingsSource(settings_cls),)
            return sources

    try:
        loaded = _FromFile(**overrides)  # type: ignore[arg-type]  # validated by pydantic, not by the signature
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"invalid settings (file {path}, env ORACLE_*): {_fields(exc)}") from exc
    return Settings.model_construct(**{name: getattr(loaded, name) for name in Settings.model_fields})


def load_policy(path: Path = DEFAULT_POLICY) -> Policy:
    """Parse and validate a policy file; any problem raises ``ConfigError`` naming the file and the field."""
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"policy file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy file {path} is not valid TOML: {exc}") from exc
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid policy {path}: {_fields(exc)}") from exc
    return policy.model_copy(update={"source": path.resolve()})


def _fields(exc: ValidationError) -> str:
    """``field.path: message`` for each validation error, on one line."""
    return "; ".join(
        f"{'.'.join(str(x) for x in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
