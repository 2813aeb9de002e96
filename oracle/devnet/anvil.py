"""A local anvil node as a context manager: started on a free port, stopped cleanly, even on Ctrl-C.

Why here and not in the tests only: the demo, the fork command and the benchmarks all need one, and all must
stop it whatever happens. anvil picks its own free port (``--port 0``) and prints it, so there is no race
between choosing a port and binding it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from oracle.errors import ToolMissingError

_LISTENING = re.compile(r"Listening on (\S+):(\d+)")

# anvil's default accounts 0-2 (mnemonic "test test ... junk", public knowledge, local chains only): the demo's
# deployer/owner, keeper and guardian.
ANVIL_DEFAULT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
ANVIL_GUARDIAN_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"


def node_modules() -> Path:
    """Where ``npm ci`` installed the pinned Foundry tools: ``ORACLE_NODE_MODULES``, else ``./node_modules`` of the
    working directory (the project's checkout, where ``make demo`` and ``make test`` run)."""
    return Path(os.environ.get("ORACLE_NODE_MODULES", "node_modules")).resolve()


def find_tool(name: str) -> Path:
    """Path of a pinned Foundry binary (``anvil``, ``forge``, ``cast``) installed by ``npm ci``.

    ``ORACLE_<NAME>`` overrides it; otherwise the checkout's pinned copy (``node_modules``) is used, then ``PATH``.
    A missing tool is an error, never a skip: run ``make test`` or ``npm ci`` to install it.
    """
    override = os.environ.get(f"ORACLE_{name.upper()}")
    candidates = [Path(override)] if override else []
    # the platform package's binary itself, then npm's Node wrapper around it
    modules = node_modules()
    candidates += sorted((modules / "@foundry-rs").glob(f"{name}-*/bin/{name}"))
    candidates.append(modules / ".bin" / name)
    which = shutil.which(name)
    if which:
        candidates.append(Path(which))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ToolMissingError(
        f"{name} not found (looked at {', '.join(map(str, candidates))}); run `npm ci` (or `make test`) to install "
        "the pinned Foundry tools"
    )


class AnvilNode:
    """A running anvil process.

    Example::

        with AnvilNode() as node:
            w3 = make_web3(node.url)
    """

    def __init__(
        self,
        *,
        fork_url: str | None = None,
        fork_block: int | None = None,
        extra_args: list[str] | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        self.fork_url = fork_url
        self.fork_block = fork_block
        self.extra_args = list(extra_args or [])
        self.start_timeout_s = start_timeout_s
        self.url = ""
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    def start(self) -> AnvilNode:
        """Start anvil and wait until it listens; raises ``ToolMissingError`` or ``RuntimeError``."""
        args = [str(find_tool("anvil")), "--port", "0", "--host", "127.0.0.1"]
        if self.fork_url:
            args += ["--fork-url", self.fork_url]
            if self.fork_block is not None:
                args += ["--fork-block-number", str(self.fork_block)]
        args += self.extra_args
        fd, log_name = tempfile.mkstemp(prefix="anvil-", suffix=".log")
        self._log = Path(log_name)
        # stdout goes to a file: a pipe nobody drains would block anvil once its buffer fills
        self._proc = subprocess.Popen(args, stdout=fd, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(fd)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            match = _LISTENING.search(self._log.read_text(errors="replace"))
            if match:
                self.port = int(match.group(2))
                self.url = f"http://{match.group(1)}:{self.port}"
                return self
            if self._proc.poll() is not None:
                break
            time.sleep(0.02)
        output = self._log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"anvil did not start ({' '.join(args)}):\n{output}")

    def stop(self) -> None:
        """Terminate anvil's whole process group (SIGTERM, then SIGKILL after 5 s) and remove its log.

        The group matters: ``node_modules/.bin/anvil`` is a Node wrapper that runs the real binary as a child.
        """
        if self._proc is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self._proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self._proc.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._proc = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
