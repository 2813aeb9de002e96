"""An on-disk cache for shap's numba-compiled kernels, so that a one-shot process does not pay the JIT cost.

Why: shap 0.51 runs its tabular maskers and explainers through ``@njit`` functions declared *without*
``cache=True`` (``maskers._tabular._delta_masking`` and ``_single_delta_mask``,
``utils._masked_model._build_fixed_multi_output``, ``explainers._exact._compute_grey_code_row_values``, ...).
Each new process compiles them on its first explanation: about 7-8 s for the exact explainer (the permutation
explainer shares the same kernels; ``KernelExplainer`` uses none). ``NUMBA_CACHE_DIR`` alone does not help,
because numba only caches functions compiled with ``cache=True``.

How: :func:`enable_numba_cache` imports shap and turns caching on *in place* on each of its dispatchers
(``Dispatcher.enable_caching``, what ``cache=True`` does), with the cache located in a user-writable directory.
In place, rather than re-wrapping with ``njit(cache=True)``, so that every reference stays the same object:
names copied by ``from x import f``, default arguments such as ``link=links.identity`` and the
``self.link != links.identity`` checks in shap all keep working unchanged. One more step is needed for
``_build_fixed_*_output``, which receive the link dispatcher as an argument: numba keys a cache entry by the
argument types, and the type of a dispatcher argument is that dispatcher object, pickled by a random per-process
UUID, so the entry would never be found again. Each shap dispatcher therefore gets a UUID derived from its
name and bytecode, which makes the unpickled key the same object in every process.

The directory is ``$ORACLE_CACHE_DIR/numba/shap-<version>``, else ``$XDG_CACHE_HOME/defi-risk-oracle/...``,
else ``~/.cache/defi-risk-oracle/...``, created if missing. The shap version in the path keeps kernels from an
older shap from being loaded (numba checks the function's own file, not the files of the functions it calls).
If the directory cannot be created or written, nothing is cached and shap compiles as before. Site-packages is
never written to. Compiled results are the same machine code as without a cache, so the attributions are the
same.

Call it before shap's first explanation in the process (``make demo`` warms the cache once per machine); later
calls return the first call's result.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ENV_CACHE_DIR = "ORACLE_CACHE_DIR"

_lock = threading.Lock()
_done = False
_result: Path | None = None


def cache_root() -> Path:
    """The oracle's cache directory: ``$ORACLE_CACHE_DIR``, else ``$XDG_CACHE_HOME/defi-risk-oracle``, else
    ``~/.cache/defi-risk-oracle``."""
    if explicit := os.environ.get(ENV_CACHE_DIR):
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "defi-risk-oracle"


def _writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _stable_uuid(py_func: Any) -> str:
    """The same in every process for the same function, unlike numba's random one."""
    code = py_func.__code__
    digest = hashlib.sha256(code.co_code + " ".join(code.co_names).encode()).hexdigest()[:16]
    return f"defi-risk-oracle:{py_func.__module__}.{py_func.__qualname__}:{digest}"


def enable_numba_cache() -> Path | None:
    """Cache shap's numba kernels on disk; return the cache directory, or ``None`` if nothing is cached (the
    directory is not writable, or numba's JIT is disabled). Must run before shap's first explanation."""
    global _done, _result
    with _lock:
        if _done:
            return _result
        _done = True
        try:
            root = cache_root()
        except RuntimeError:  # no home directory
            return None
        import shap
        from numba.core import config as numba_config
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher

        path = root / "numba" / f"shap-{shap.__version__}"
        if not _writable_dir(path):
            return None
        dispatchers: dict[int, Any] = {
            id(value): value
            for name, module in list(sys.modules.items())
            if name == "shap" or name.startswith("shap.")
            for value in list(getattr(module, "__dict__", {}).values())
            if isinstance(value, Dispatcher) and value.py_func.__module__.startswith("shap")
        }
        config: Any = numba_config
        previous = config.CACHE_DIR
        config.CACHE_DIR = str(path)  # read once, when each dispatcher's cache locator is made
        enabled = 0
        try:
            for dispatcher in dispatchers.values():
                if not isinstance(getattr(dispatcher, "_cache", None), NullCache):
                    continue  # already cached (cache=True in a later shap, or enabled elsewhere)
                try:
                    dispatcher.enable_caching()
                    if not Path(dispatcher._cache.cache_path).is_relative_to(path):
                        dispatcher._cache = NullCache()  # numba fell back to another locator: keep out of it
                        continue
                    if getattr(dispatcher, "_MemoMixin__uuid", "") is None:  # not yet pickled in this process
                        dispatcher._set_uuid(_stable_uuid(dispatcher.py_func))
                except (AttributeError, OSError, RuntimeError):  # numba internals moved: uncached, still correct
                    dispatcher._cache = NullCache()
                    continue
                enabled += 1
        finally:
            config.CACHE_DIR = previous
        _result = path if enabled else None
        return _result
