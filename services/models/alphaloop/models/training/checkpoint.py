"""Training checkpoints, so training over a large universe resumes where it stopped: one file
per finished step (a symbol in per-symbol mode; a CV fold or the final fit in pooled mode) under
``<run_dir>/checkpoints/<key>/``, written atomically (temp file + fsync + rename), so a pod
killed mid-write leaves the previous state or nothing, never half a file. ``key`` is derived from
the config digest and the data fingerprint (plus, in pooled mode, a digest of the training set
itself), so a changed config or changed bars never reuse stale checkpoints.

The run dir defaults to ``.alphaloop/training`` (the services use
``<state_dir>/training``). Checkpoints are kept after a run (they are small: predictions and
fitted classifiers) and a re-run on the same inputs just loads them; ``make clean`` removes
``.alphaloop/`` with them. The file format is private to this module and ``pipeline``."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

#: Bumped when what is saved changes, so old files sit in another folder and are never read.
CHECKPOINT_FORMAT = 2


class StepCheckpoints:
    """The saved outcomes of the named steps of one training run over one set of inputs."""

    def __init__(self, run_dir: str | Path, config_digest: str, data_sha256: str,
                 *more_key: str) -> None:
        parts = [f"v{CHECKPOINT_FORMAT}", config_digest, data_sha256, *more_key]
        self.key = hashlib.sha256(":".join(parts).encode()).hexdigest()[:16]
        self.folder = Path(run_dir) / "checkpoints" / self.key

    def path(self, step: str) -> Path:
        # Tickers like BRK/B or ../x must stay one plain file name.
        return self.folder / f"{quote(step, safe='').replace('.', '%2E')}.pkl"

    def load(self, step: str) -> dict[str, Any] | None:
        """The saved outcome of ``step``, or None if it has not finished (or the file is
        unreadable, e.g. truncated or from another library version: the step is then redone)."""
        path = self.path(step)
        if not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                saved = pickle.load(fh)
        except Exception:  # noqa: BLE001 (a bad checkpoint means: do this step again)
            return None
        if not isinstance(saved, dict) or saved.get("step") != step:
            return None
        return saved

    def save(self, step: str, outcome: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(step)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({**outcome, "step": step}, fh, protocol=pickle.HIGHEST_PROTOCOL)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def finished(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("*.pkl")) if self.folder.is_dir() else []


#: The per-symbol name of the same mechanism (one step per symbol).
SymbolCheckpoints = StepCheckpoints


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 over pandas' per-row hashes of ``frame`` (its columns, in order; not its index).
    Part of the pooled key: it changes with anything that changes the training set but is not
    in the config or the bars (the sector map, feature code), and costs milliseconds."""
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(np.ascontiguousarray(rows).tobytes())
    return digest.hexdigest()
