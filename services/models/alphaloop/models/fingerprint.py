"""A fingerprint of the exact bars a model was trained on: sha256 over a canonical CSV of
(symbol, ts, open, high, low, close, volume), sorted by (symbol, ts), plus the date range and
the symbol count. Two bar frames get the same hash exactly when they hold the same bars,
whatever their row order, index, extra columns, timestamp column name or timezone."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from alphaloop.common.errors import InvalidInputError

#: The columns hashed, in this order. Volume is hashed as float64 so int and float volume agree.
FINGERPRINT_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume")
#: Bumped when the canonical form changes, so old and new hashes never compare equal by chance.
FINGERPRINT_VERSION = 1


@dataclass(frozen=True)
class DataFingerprint:
    sha256: str
    first_ts: str  # ISO 8601, UTC
    last_ts: str
    n_symbols: int
    n_bars: int
    version: int = FINGERPRINT_VERSION

    @property
    def short(self) -> str:
        return self.sha256[:12]

    def as_dict(self) -> dict[str, str | int]:
        return asdict(self)


def canonical_csv(bars: pd.DataFrame) -> bytes:
    """The canonical serialisation that is hashed: a header line, then one line per bar,
    sorted by (symbol, ts); ts as integer nanoseconds since the epoch (UTC); prices and volume as the
    shortest decimal that round-trips the float64 (Python's ``repr``); NaN as an empty field;
    ``\\n`` line ends."""
    return _to_csv(_canonical_frame(bars))


def fingerprint(bars: pd.DataFrame) -> DataFingerprint:
    """Fingerprint of ``bars`` (columns symbol, ts or timestamp, open, high, low, close,
    volume; missing price columns count as empty): sha256 of the line
    ``alphaloop-bars-v<version>`` followed by :func:`canonical_csv`."""
    frame = _canonical_frame(bars)
    digest = hashlib.sha256(f"alphaloop-bars-v{FINGERPRINT_VERSION}\n".encode())
    digest.update(_to_csv(frame))
    first = _iso(frame["ts"].min()) if len(frame) else ""
    last = _iso(frame["ts"].max()) if len(frame) else ""
    return DataFingerprint(
        sha256=digest.hexdigest(), first_ts=first, last_ts=last,
        n_symbols=int(frame["symbol"].nunique()), n_bars=len(frame),
    )


def _canonical_frame(bars: pd.DataFrame) -> pd.DataFrame:
    ts_col = "ts" if "ts" in bars.columns else "timestamp" if "timestamp" in bars.columns else None
    if ts_col is None or "symbol" not in bars.columns:
        raise InvalidInputError("bars", "need columns symbol and ts (or timestamp)")
    ts = pd.to_datetime(bars[ts_col], utc=True)
    ns = ts.to_numpy(dtype="datetime64[ns]").view(np.int64) if len(ts) else np.empty(0, np.int64)
    out = pd.DataFrame({"symbol": bars["symbol"].astype(str).to_numpy(), "ts": ns})
    for name in FINGERPRINT_COLUMNS[2:]:
        col = bars[name] if name in bars.columns else pd.Series(np.nan, index=bars.index)
        out[name] = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    return out.sort_values(["symbol", "ts"], kind="mergesort", ignore_index=True)


def _to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


def _iso(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat()
