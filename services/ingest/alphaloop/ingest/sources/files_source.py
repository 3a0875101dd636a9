"""Bars from CSV or Parquet files you already have: one file or a folder of them.

Column mapping (``FilesConfig.columns``) renames file columns to bar fields. Every key is a
column of the file, every value one of:

| bar field | required | meaning |
|---|---|---|
| ``ts`` | yes | bar timestamp or date (parsed with ``date_format``, local to ``timezone``) |
| ``close`` | yes | close price |
| ``symbol`` | unless ``symbol`` or ``symbol_from_filename`` is set | ticker |
| ``open``, ``high``, ``low`` | no | prices; absent means NaN (close-only data) |
| ``volume``, ``vwap``, ``trade_count`` | no | absent means NaN / NA |
| ``interval`` | no | bar interval per row; absent means ``FilesConfig.interval`` |
| ``name``, ``sector``, ``industry`` | no | reference data returned by ``symbols()`` |

Columns already named like a bar field (case-insensitive), and the usual aliases in
:data:`ALIASES` (``Date`` -> ts, ``Ticker`` -> symbol, ...), need no mapping; the configured map
wins over both, and other columns are ignored. Daily bars (``interval="1d"``) are stamped at midnight UTC of their session date,
the convention every AlphaLoop source follows; intraday timestamps are read in ``timezone``
and converted to UTC. Rows are passed on unfiltered: the quality gate judges them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.common.errors import InvalidInputError
from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    SYMBOL_COLUMNS,
    BarSource,
    PermanentSymbolError,
    RateLimit,
)

#: Bar fields a column map may target.
MAPPABLE_FIELDS = (
    "symbol",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "trade_count",
    "interval",
    "name",
    "sector",
    "industry",
)
#: Column names (lower-cased) read as a bar field without a mapping.
ALIASES = {
    **{f: f for f in MAPPABLE_FIELDS},
    "date": "ts",
    "datetime": "ts",
    "timestamp": "ts",
    "time": "ts",
    "ticker": "symbol",
    "transactions": "trade_count",
}
_PRICE_FIELDS = ("open", "high", "low", "close", "volume", "vwap")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.zip", ".csv.bz2", ".csv.xz", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


class FilesConfig(BaseSettings):
    """Settings of the files source. Environment: ``ALPHALOOP_INGEST_FILES_<FIELD>``
    (``columns`` as JSON, e.g. ``{"Date": "ts", "Adj Close": "close"}``)."""

    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_INGEST_FILES_", frozen=True, extra="forbid"
    )

    path: Path = Field(..., description="A CSV/Parquet file, or a folder searched with pattern.")
    format: Literal["auto", "csv", "parquet"] = Field(
        "auto", description="File format; auto picks it from each file's suffix."
    )
    pattern: str = Field(
        "*", description="Glob for files inside a folder path (recursive with '**/*')."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="File column -> bar field (symbol, ts, open, high, low, close, volume, "
        "vwap, trade_count, interval, name, sector, industry).",
    )
    symbol: str | None = Field(
        None, description="Symbol of every row, for single-symbol files without a symbol column."
    )
    symbol_from_filename: bool = Field(
        False, description="Without a symbol column, use the file name stem (AAPL.csv -> AAPL)."
    )
    date_format: str | None = Field(
        None, description="strftime format of the ts column (e.g. %Y%m%d); None: ISO 8601 / infer."
    )
    timezone: str = Field(
        "UTC", description="Time zone of naive timestamps in the files (e.g. America/New_York)."
    )
    interval: str = Field("1d", description="Interval of the bars when no column says it.")
    separator: str = Field(",", description="CSV field separator.")
    license: str = Field(
        "user-supplied files", description="Where the files come from and under what terms."
    )
    batch_size: int = Field(200, ge=1, description="Symbols per hydration batch.")

    @field_validator("columns")
    @classmethod
    def _targets_are_bar_fields(cls, v: dict[str, str]) -> dict[str, str]:
        for column, target in v.items():
            if target not in MAPPABLE_FIELDS:
                raise ValueError(
                    f"column {column!r} maps to {target!r}, which is not a bar field; "
                    f"choose from {', '.join(MAPPABLE_FIELDS)}"
                )
        targets = list(v.values())
        dupes = sorted({t for t in targets if targets.count(t) > 1})
        if dupes:
            raise ValueError(f"several columns map to {', '.join(dupes)}")
        return v


class FilesSource(BarSource):
    """CSV/Parquet files (or a folder of them) read through a documented column mapping."""

    name = "files"
    rate_limit = RateLimit(requests=1_000_000, per_seconds=1.0)  # local files: no limit

    def __init__(self, config: FilesConfig) -> None:
        self.config = config
        self.license = config.license
        self.batch_size = config.batch_size
        self._bars: pd.DataFrame | None = None
        self._reference: pd.DataFrame | None = None

    def files(self) -> list[Path]:
        """The files this source reads, sorted."""
        path = self.config.path
        if path.is_file():
            return [path]
        if not path.exists():
            raise InvalidInputError("path", f"{path} does not exist")
        found = sorted(
            p for p in path.glob(self.config.pattern) if p.is_file() and _format_of(p) is not None
        )
        if self.config.format != "auto":
            found = [p for p in found if _format_of(p) == self.config.format]
        if not found:
            raise InvalidInputError(
                "path", f"{path} holds no CSV or Parquet files matching {self.config.pattern!r}"
            )
        return found

    def load(self) -> pd.DataFrame:
        """Every row of every file as bars (read once, then cached)."""
        if self._bars is None:
            frames, refs = [], []
            for path in self.files():
                bars, ref = self._read(path)
                frames.append(bars)
                refs.append(ref)
            bars = pd.concat(frames, ignore_index=True) if frames else _empty_bars()
            self._bars = bars.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
            ref = pd.concat(refs, ignore_index=True)
            self._reference = ref.drop_duplicates("symbol", keep="first")
        return self._bars

    def symbols(self) -> pd.DataFrame:
        bars = self.load()
        traded = pd.DataFrame({"symbol": sorted(bars["symbol"].unique())})
        out = traded.merge(self._reference, on="symbol", how="left").fillna("")
        return out[SYMBOL_COLUMNS]

    def fetch(
        self,
        symbols: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        interval: str = "1d",
    ) -> pd.DataFrame:
        bars = self.load()
        known = set(bars["symbol"].unique())
        for symbol in symbols:
            if symbol not in known:
                raise PermanentSymbolError(symbol, f"not in the files under {self.config.path}")
        mask = bars["symbol"].isin(list(symbols)) & (bars["interval"] == interval)
        if start is not None:
            mask &= bars["ts"] >= pd.Timestamp(start, tz="UTC")
        if end is not None:
            mask &= bars["ts"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
        return bars[mask].reset_index(drop=True)

    # -- reading one file ---------------------------------------------------------------------
    def _read(self, path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
        fmt = self.config.format if self.config.format != "auto" else _format_of(path)
        if fmt is None:
            raise InvalidInputError(
                "format", f"{path}: cannot tell CSV from Parquet by its suffix; set format"
            )
        try:
            if fmt == "csv":
                raw = pd.read_csv(
                    path,
                    sep=self.config.separator,
                    dtype=str,
                    keep_default_na=False,
                    na_values=["", "NA", "NaN", "nan", "null", "."],
                )
            else:
                raw = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InvalidInputError("path", f"{path}: cannot read as {fmt}: {exc}") from exc
        return self._to_bars(raw, path)

    def _to_bars(self, raw: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
        mapping = self._mapping_for(raw, path)
        col = {field: raw[column] for column, field in mapping.items()}
        n = len(raw)

        if "symbol" in col:
            blank = col["symbol"].isna() | (col["symbol"].astype(str).str.strip() == "")
            if blank.any():
                raise InvalidInputError(
                    "columns", f"{path}: row {int(blank.to_numpy().argmax()) + 1} has no symbol"
                )
            symbol = col["symbol"].astype(str).str.strip().str.upper()
        elif self.config.symbol:
            symbol = pd.Series([self.config.symbol.upper()] * n)
        elif self.config.symbol_from_filename:
            symbol = pd.Series([_stem(path).upper()] * n)
        else:
            raise InvalidInputError(
                "columns",
                f"{path}: no column maps to 'symbol'; map one, or set symbol (one symbol per "
                f"file) or symbol_from_filename. The file has columns {list(raw.columns)}",
            )

        interval = (
            col["interval"].astype(str)
            if "interval" in col
            else pd.Series([self.config.interval] * n)
        )
        ts = self._parse_ts(col["ts"], interval, path)
        data: dict[str, Any] = {"symbol": symbol.to_numpy(), "ts": ts}
        for field in _PRICE_FIELDS:
            if field in col:
                data[field] = _numbers(col[field], field, path)
        if "trade_count" in col:
            data["trade_count"] = _numbers(col["trade_count"], "trade_count", path)
        bars = to_bar_frame(data, source=self.name, interval=interval.to_numpy())

        ref = pd.DataFrame({"symbol": symbol.to_numpy()})
        for field in ("name", "sector", "industry"):
            ref[field] = col[field].astype(str).to_numpy() if field in col else ""
        return bars, ref

    def _mapping_for(self, raw: pd.DataFrame, path: Path) -> dict[str, str]:
        """File column -> bar field: the configured map, plus columns already named as fields."""
        mapping = dict(self.config.columns)
        missing = [c for c in mapping if c not in raw.columns]
        if missing:
            detail = ", ".join(f"{c!r} (mapped to {mapping[c]})" for c in missing)
            raise InvalidInputError(
                "columns",
                f"{path}: mapped column {detail} is missing; the file has columns "
                f"{list(raw.columns)}",
            )
        targets = set(mapping.values())
        for column in raw.columns:
            field = ALIASES.get(str(column).strip().lower())
            if column not in mapping and field is not None and field not in targets:
                mapping[column] = field
                targets.add(field)
        for required in ("ts", "close"):
            if required not in targets:
                raise InvalidInputError(
                    "columns",
                    f"{path}: no column maps to {required!r}; add it to the column map. The "
                    f"file has columns {list(raw.columns)}",
                )
        return mapping

    def _parse_ts(self, values: pd.Series, interval: pd.Series, path: Path) -> pd.Series:
        fmt = self.config.date_format or "ISO8601"
        try:
            if pd.api.types.is_datetime64_any_dtype(values):
                ts = pd.Series(values).reset_index(drop=True)
            else:
                ts = pd.to_datetime(values.astype(str).str.strip(), format=fmt)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(
                "date_format", f"{path}: the ts column does not parse as {fmt}: {exc}"
            ) from exc
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(self.config.timezone)
        # A daily bar belongs to its session date where it was recorded, stamped midnight UTC.
        session = (
            ts.dt.tz_convert(self.config.timezone)
            .dt.tz_localize(None)
            .dt.normalize()
            .dt.tz_localize("UTC")
        )
        return ts.dt.tz_convert("UTC").where((interval != "1d").to_numpy(), session)


def to_bar_frame(
    data: Mapping[str, Any],
    *,
    source: str,
    interval: str | np.ndarray,
    session_tz: str | None = None,
) -> pd.DataFrame:
    """A frame in :data:`BAR_COLUMNS` layout from whichever fields ``data`` has.

    ``data`` must hold ``symbol`` and ``ts`` (aware, or naive meaning UTC); missing
    prices/volume/vwap become NaN and a missing trade_count NA, never a made-up value.
    With ``session_tz`` and ``interval == "1d"``, a vendor's daily stamp (Alpaca and Polygon
    stamp midnight New York) becomes midnight UTC of that session date, the house convention.
    Shared by every source in this package.
    """
    ts = pd.DatetimeIndex(pd.to_datetime(data["ts"], utc=True)).as_unit("ns")
    if session_tz is not None and isinstance(interval, str) and interval == "1d":
        ts = ts.tz_convert(session_tz).tz_localize(None).normalize().tz_localize("UTC")
    n = len(ts)
    out = pd.DataFrame({"symbol": np.asarray(data["symbol"], dtype=object).reshape(n)})
    out["interval"] = interval
    out["ts"] = ts
    for field in _PRICE_FIELDS:
        values = data.get(field)
        out[field] = np.full(n, np.nan) if values is None else np.asarray(values, "float64")
    counts = data.get("trade_count")
    if counts is None:
        out["trade_count"] = pd.array(np.full(n, pd.NA), dtype="Int64")
    else:
        out["trade_count"] = pd.array(np.asarray(counts, "float64").round(), dtype="Int64")
    out["source"] = source
    return out[BAR_COLUMNS]


def _empty_bars() -> pd.DataFrame:
    return to_bar_frame({"symbol": [], "ts": []}, source=FilesSource.name, interval="1d")


def _numbers(values: pd.Series, field: str, path: Path) -> np.ndarray:
    cleaned = (
        values.astype(str).str.replace(",", "", regex=False).str.strip()
        if (values.dtype == object)
        else values
    )
    out = pd.to_numeric(cleaned, errors="coerce")
    bad = out.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        example = values[bad].iloc[0]
        raise InvalidInputError(
            "columns",
            f"{path}: column for {field!r} holds a non-number ({example!r}) "
            f"on row {int(bad.to_numpy().nonzero()[0][0]) + 1}",
        )
    return out.to_numpy(dtype="float64")


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(_CSV_SUFFIXES + _PARQUET_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem
