"""Per-symbol checkpoints, so training over a large universe resumes where it stopped: one
file per finished symbol under ``<run_dir>/checkpoints/<key>/``, written atomically (temp file +
rename). ``key`` is derived from the config and the data fingerprint, so a changed config or
changed bars never reuse stale checkpoints."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

CHECKPOINT_FORMAT = 1


class SymbolCheckpoints:
    def __init__(self, run_dir: str | Path, config_digest: str, data_sha256: str) -> None:
        self.key = hashlib.sha256(
            f"v{CHECKPOINT_FORMAT}:{config_digest}:{data_sha256}".encode()).hexdigest()[:16]
        self.folder = Path(run_dir) / "checkpoints" / self.key

    def path(self, symbol: str) -> Path:
        # Tickers like BRK/B or ../x must stay one plain file name.
        return self.folder / f"{quote(symbol, safe='').replace('.', '%2E')}.pkl"

    def load(self, symbol: str) -> dict[str, Any] | None:
        """The saved outcome of ``symbol``, or None if it has not finished (or the file is
        unreadable, e.g. from another library version: it is then retrained)."""
        path = self.path(symbol)
        if not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                saved = pickle.load(fh)
        except Exception:  # noqa: BLE001 (a bad checkpoint means: train this symbol again)
            return None
        if not isinstance(saved, dict) or saved.get("symbol") != symbol:
            return None
        return saved

    def save(self, symbol: str, outcome: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(symbol)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({**outcome, "symbol": symbol}, fh, protocol=pickle.HIGHEST_PROTOCOL)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def finished(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("*.pkl")) if self.folder.is_dir() else []
