"""The quality gate: every bar is checked before it is stored as good. A bar that breaks a rule
goes to quarantine with the rule's name and a detail; nothing is silently dropped or fixed, and
a per-symbol report counts what each rule caught.

Row rules judge one bar at a time: non-positive or NaN prices, high/low not bracketing
open/close, negative volume, duplicate or out-of-order timestamps, and bars on days that are not
sessions of the exchange calendar (``exchange-calendars``, XNYS by default).

Series rules run per (symbol, interval) on the bars that passed every row rule, in timestamp
order, using only bars at or before the one judged (point in time, deterministic):

* ``stale_close``: the close has been the same for ``stale_bars`` consecutive bars (this one
  included). The first ``stale_bars - 1`` bars of such a run are kept (an illiquid name may
  legitimately print the same close a few times); every bar from the N-th on is quarantined.
* ``spike``: ``|r_t - m_t| > k * s_t`` where ``r_t`` is the log return from the previous bar,
  ``m_t`` the median of the previous ``spike_window`` returns and ``s_t = 1.4826 * MAD`` their
  robust standard deviation (``1.2533 * mean absolute deviation`` when the MAD is 0; a window
  with no dispersion at all, or shorter than ``spike_min_history``, judges nothing). A bar is a
  spike only if it is also that far from the last bar that was *not* a spike: the bar that
  comes back after a bad print is kept, and after a level shift (an unadjusted split) only the
  shifting bar is caught, not the rest of the history.
* ``gap`` (reported, never quarantined): sessions of the calendar between two consecutive
  daily bars of a symbol for which the source delivered no bar at all. Quarantining the bar
  after a gap would widen the hole; instead every gap is listed in ``GateResult.gaps`` and its
  missing sessions are counted in the per-symbol report under ``gap``. Sessions whose bar was
  delivered but quarantined are counted under that bar's rule, not as gaps. Missing sessions
  before a symbol's first bar or after its last are not gaps (listings, delistings).

``history`` (bars already stored as good before the fetched range) gives series rules their
context on incremental runs; history bars are never judged or returned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from rich.table import Table

PRICE_COLUMNS = ["open", "high", "low", "close"]
GROUP = ["symbol", "interval"]

NON_TRADING_DAY = "non_trading_day"
STALE = "stale_close"
SPIKE = "spike"
GAP = "gap"
#: Report-only entries the hydrator adds for a symbol that yielded no bars.
PERMANENT_ERROR = "permanent_error"
NO_DATA = "no_data"

_MAD_TO_SD = 1.4826  # 1 / Phi^-1(3/4): MAD -> standard deviation under normality
_MEAN_AD_TO_SD = 1.2533  # sqrt(pi / 2): mean absolute deviation -> standard deviation
_WINDOW_CHUNK = 16_384  # rows per block of the rolling MAD, to bound memory
_INTERVAL_RE = re.compile(r"^(\d+)(m|min|h|d)$")


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[[pd.DataFrame], pd.Series]  # True where the bar breaks the rule
    detail: Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gate. ``calendar``: an exchange-calendars name (``XNYS``, ``24/7``,
    ...) or ``None`` to skip the calendar and gap rules (macro series, odd calendars)."""

    calendar: str | None = "XNYS"
    stale_bars: int = 5
    spike_k: float = 10.0
    spike_window: int = 63
    spike_min_history: int = 20

    def __post_init__(self) -> None:
        if self.stale_bars < 2:
            raise ValueError(f"stale_bars must be at least 2, got {self.stale_bars}")
        if self.spike_k <= 0:
            raise ValueError(f"spike_k must be positive, got {self.spike_k}")
        if not 2 <= self.spike_min_history <= self.spike_window:
            raise ValueError("need 2 <= spike_min_history <= spike_window")


# ---------------------------------------------------------------------------------------------
# Row rules
# ---------------------------------------------------------------------------------------------

def _non_positive_price(b: pd.DataFrame) -> pd.Series:
    prices = b[PRICE_COLUMNS]
    return (prices.isna() | (prices <= 0)).any(axis=1)


def _high_low_bracket(b: pd.DataFrame) -> pd.Series:
    top = np.maximum(b["open"], b["close"])
    bottom = np.minimum(b["open"], b["close"])
    return (b["high"] < top) | (b["low"] > bottom) | (b["high"] < b["low"])


def _negative_volume(b: pd.DataFrame) -> pd.Series:
    return b["volume"].isna() | (b["volume"] < 0)


def _duplicate_or_unordered(b: pd.DataFrame) -> pd.Series:
    dup = b.duplicated(["symbol", "interval", "ts"], keep="first")
    prev = b.groupby(GROUP, sort=False)["ts"].shift()
    return dup | (prev.notna() & (b["ts"] < prev))


def _ohlc_detail(b: pd.DataFrame) -> pd.Series:
    return (
        "o=" + b["open"].astype(str) + " h=" + b["high"].astype(str)
        + " l=" + b["low"].astype(str) + " c=" + b["close"].astype(str)
    )


RULES: tuple[Rule, ...] = (
    Rule("non_positive_price", "a price is NaN, zero or negative", _non_positive_price, _ohlc_detail),
    Rule("high_low_bracket", "high below max(open, close) or low above min(open, close)",
         _high_low_bracket, _ohlc_detail),
    Rule("negative_volume", "volume is NaN or negative", _negative_volume,
         lambda b: "volume=" + b["volume"].astype(str)),
    Rule("duplicate_or_out_of_order", "same timestamp twice, or earlier than the previous bar",
         _duplicate_or_unordered, lambda b: "ts=" + b["ts"].astype(str)),
)

#: Every name that can appear in a quality report, in the order reports show them.
REPORT_RULES: tuple[str, ...] = (
    *(r.name for r in RULES), NON_TRADING_DAY, STALE, SPIKE, GAP, NO_DATA, PERMANENT_ERROR,
)


@lru_cache(maxsize=16)
def _calendar(name: str, first_year: int, last_year: int) -> tuple[pd.DatetimeIndex, str]:
    """Sessions (naive dates) and time zone of a calendar over whole years (cached: building
    one takes a few hundred milliseconds)."""
    import exchange_calendars as xc

    cal = xc.get_calendar(name, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    return pd.DatetimeIndex(cal.sessions), str(cal.tz or "UTC")


def check_calendar_name(name: str) -> str:
    """``name`` if exchange-calendars knows it, else ValueError listing a few it knows."""
    import exchange_calendars as xc

    names = xc.get_calendar_names(include_aliases=True)
    if name not in names:
        raise ValueError(f"unknown exchange calendar {name!r} (e.g. XNYS, XNAS, XLON, 24/7)")
    return name


def _interval_kind(interval: str) -> str | None:
    """'daily' for 1d, 'intraday' for minutes/hours, None for longer bars (not checked)."""
    m = _INTERVAL_RE.match(str(interval))
    if m is None:
        return None
    if m.group(2) == "d":
        return "daily" if m.group(1) == "1" else None
    return "intraday"


def _session_dates(b: pd.DataFrame, tz: str) -> pd.Series:
    """The session date each bar belongs to (naive), NaT for intervals the calendar ignores.
    A daily bar's ``ts`` is its session date at 00:00 UTC; an intraday bar belongs to the
    exchange-local date of its open time."""
    kind = b["interval"].map(_interval_kind)
    out = pd.Series(pd.NaT, index=b.index, dtype="datetime64[ns]")
    daily = kind == "daily"
    if daily.any():
        out[daily] = b.loc[daily, "ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    intra = kind == "intraday"
    if intra.any():
        local = b.loc[intra, "ts"].dt.tz_convert(tz).dt.tz_localize(None)
        out[intra] = local.dt.normalize()
    return out


def _sessions_for(name: str, dates: pd.Series) -> tuple[pd.DatetimeIndex, str]:
    known = dates.dropna()
    if known.empty:
        return pd.DatetimeIndex([]), "UTC"
    return _calendar(name, int(known.min().year), int(known.max().year))


def calendar_rule(name: str) -> Rule:
    """Bars whose session date is not a session of calendar ``name``."""

    def check(b: pd.DataFrame) -> pd.Series:
        probe = _session_dates(b, "UTC")
        sessions, tz = _sessions_for(name, probe)
        dates = _session_dates(b, tz) if tz != "UTC" else probe
        return dates.notna() & ~dates.isin(sessions)

    def detail(b: pd.DataFrame) -> pd.Series:
        return f"not a {name} session: " + b["ts"].astype(str)

    return Rule(NON_TRADING_DAY, f"bar on a day that is not a {name} session", check, detail)


# ---------------------------------------------------------------------------------------------
# Series rules
# ---------------------------------------------------------------------------------------------

def _median_of_sorted(s: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row medians of ``s`` (each row sorted, NaN last) over its first ``counts`` entries."""
    lo = np.maximum((counts - 1) // 2, 0)[:, None]
    hi = np.maximum(counts // 2, 0)[:, None]
    med = (np.take_along_axis(s, lo, 1)[:, 0] + np.take_along_axis(s, hi, 1)[:, 0]) / 2
    med[counts == 0] = np.nan
    return med


def rolling_robust_sd(
    returns: np.ndarray, position: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row t, over the returns of rows t-window .. t-1 of the same series
    (``position`` = row's index within its series; NaN returns are skipped): the median, the
    robust standard deviation (1.4826 * MAD, or 1.2533 * mean absolute deviation when the MAD
    is 0) and how many returns the window held. Row t itself is never in its own window."""
    n = len(returns)
    med = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    counts = np.zeros(n, dtype=np.int64)
    padded = np.concatenate([np.full(window, np.nan), returns])
    offsets = np.arange(window) - window  # window slot j holds row t + offsets[j]
    for a in range(0, n, _WINDOW_CHUNK):
        b = min(a + _WINDOW_CHUNK, n)
        win = sliding_window_view(padded[a : b + window - 1], window)[: b - a]
        valid = ((offsets[None, :] + position[a:b, None]) >= 0) & ~np.isnan(win)
        win = np.where(valid, win, np.nan)
        cnt = valid.sum(axis=1)
        m = _median_of_sorted(np.sort(win, axis=1), cnt)
        dev = np.abs(win - m[:, None])
        mad = _median_of_sorted(np.sort(dev, axis=1), cnt)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_ad = np.where(cnt > 0, np.nansum(dev, axis=1) / np.maximum(cnt, 1), np.nan)
        s = _MAD_TO_SD * mad
        s = np.where(s > 0, s, _MEAN_AD_TO_SD * mean_ad)
        med[a:b], sd[a:b], counts[a:b] = m, s, cnt
    return med, sd, counts


def _stale(frame: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Run length of the unchanged close at each row; flag rows whose run reached ``n``."""
    close = frame["close"].to_numpy()
    g = frame["_g"].to_numpy()
    same = np.zeros(len(frame), dtype=bool)
    same[1:] = (close[1:] == close[:-1]) & (g[1:] == g[:-1])
    run_id = np.cumsum(~same)
    run = pd.Series(run_id).groupby(run_id).cumcount().to_numpy() + 1
    return run >= n, run


def _spikes(frame: pd.DataFrame, cfg: GateConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray]:
    close = frame["close"].to_numpy(dtype="float64")
    g = frame["_g"].to_numpy()
    position = frame.groupby("_g", sort=False).cumcount().to_numpy()
    logc = np.log(close)
    r = np.full(len(frame), np.nan)
    r[1:] = logc[1:] - logc[:-1]
    r[position == 0] = np.nan
    med, sd, counts = rolling_robust_sd(r, position, cfg.spike_window)
    limit = cfg.spike_k * sd
    with np.errstate(invalid="ignore"):
        candidate = (
            ~frame["_hist"].to_numpy() & (counts >= cfg.spike_min_history) & (sd > 0)
            & (np.abs(r - med) > limit)
        )
    flagged = np.zeros(len(frame), dtype=bool)
    for t in np.flatnonzero(candidate):  # ascending: earlier decisions are known
        j = t - 1
        while flagged[j] and j > 0 and g[j - 1] == g[t]:
            j -= 1
        flagged[t] = abs(logc[t] - logc[j] - med[t]) > limit[t]
    return flagged, r, med, sd


def _series_frame(
    bars: pd.DataFrame, ok: pd.Series, history: pd.DataFrame | None
) -> pd.DataFrame:
    """Bars that passed the row rules plus their history, sorted per series, with ``_row``
    (index into ``bars``, -1 for history), ``_hist`` and an integer series id ``_g``."""
    clean = bars.loc[ok, [*GROUP, "ts", "close"]].assign(_row=bars.index[ok], _hist=False)
    parts = [clean]
    if history is not None and len(history) and len(clean):
        first = clean.groupby(GROUP, as_index=False)["ts"].min().rename(columns={"ts": "_first"})
        hist = history[[*GROUP, "ts", "close"]].merge(first, on=GROUP)
        hist = hist[hist["ts"] < hist["_first"]].drop(columns="_first")
        hist = hist.sort_values([*GROUP, "ts"]).groupby(GROUP).tail(2_048)
        parts.insert(0, hist.assign(_row=-1, _hist=True))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else clean.reset_index(drop=True)
    frame = frame.sort_values([*GROUP, "ts", "_row"], kind="stable").reset_index(drop=True)
    frame["_g"] = frame.groupby(GROUP, sort=False).ngroup()
    return frame


def find_gaps(
    bars: pd.DataFrame, calendar: str, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Gaps in daily series: symbol, interval, after, before (the delivered bars either side)
    and missing_sessions (calendar sessions between them with no bar delivered at all)."""
    columns = [*GROUP, "after", "before", "missing_sessions"]
    daily = bars[bars["interval"].map(_interval_kind) == "daily"][[*GROUP, "ts"]]
    if history is not None and len(history) and len(daily):
        hist = history[history["interval"].map(_interval_kind) == "daily"][[*GROUP, "ts"]]
        daily = pd.concat([hist[hist["symbol"].isin(daily["symbol"].unique())], daily])
    if daily.empty:
        return pd.DataFrame(columns=columns)
    date = daily["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    sessions, _ = _sessions_for(calendar, date)
    index = pd.Series(np.arange(len(sessions)), index=sessions)
    found = daily.assign(_pos=date.map(index)).dropna(subset=["_pos"])
    found = found.drop_duplicates([*GROUP, "_pos"]).sort_values([*GROUP, "_pos"])
    prev_pos = found.groupby(GROUP, sort=False)["_pos"].shift()
    prev_ts = found.groupby(GROUP, sort=False)["ts"].shift()
    missing = found["_pos"] - prev_pos - 1
    hit = missing > 0
    return pd.DataFrame({
        "symbol": found.loc[hit, "symbol"].to_numpy(),
        "interval": found.loc[hit, "interval"].to_numpy(),
        "after": prev_ts[hit].to_numpy(),
        "before": found.loc[hit, "ts"].to_numpy(),
        "missing_sessions": missing[hit].astype("int64").to_numpy(),
    }, columns=columns)


# ---------------------------------------------------------------------------------------------
# The gate
# ---------------------------------------------------------------------------------------------

@dataclass
class GateResult:
    good: pd.DataFrame
    quarantined: pd.DataFrame  # the bar's columns + rule + detail (a bar may break several)
    counts: dict[str, int]  # rule -> bars caught (gap: missing sessions)
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)  # see find_gaps
    report: pd.DataFrame = field(default_factory=pd.DataFrame)  # symbol, rule, count (> 0)


def apply_gate(
    bars: pd.DataFrame,
    config: GateConfig | None = None,
    history: pd.DataFrame | None = None,
) -> GateResult:
    """Split ``bars`` (input order kept) into good bars and quarantined bars with reasons, and
    count per symbol what each rule caught. ``history``: bars already stored as good before
    these (context for the series rules on incremental runs)."""
    cfg = config or GateConfig()
    bars = bars.reset_index(drop=True)
    rules = RULES + ((calendar_rule(cfg.calendar),) if cfg.calendar else ())
    masks: dict[str, pd.Series] = {}
    details: dict[str, pd.Series] = {}
    for rule in rules:
        masks[rule.name] = rule.check(bars).fillna(True).astype(bool)
    row_bad = pd.concat(masks.values(), axis=1).any(axis=1) if masks else pd.Series(False, index=bars.index)

    frame = _series_frame(bars, ~row_bad, history)
    new = ~frame["_hist"].to_numpy()
    rows = frame["_row"].to_numpy()
    stale, run = _stale(frame, cfg.stale_bars)
    spike, r, med, sd = _spikes(frame, cfg)
    for name, hit, describe in (
        (STALE, stale, lambda i: f"close={frame['close'].iat[i]} unchanged for {run[i]} bars"),
        (SPIKE, spike, lambda i: f"log return {r[i]:+.4f}, median {med[i]:+.4f}, robust sd "
                                 f"{sd[i]:.4f} (k={cfg.spike_k:g}, window={cfg.spike_window})"),
    ):
        hits = np.flatnonzero(hit & new)
        mask = pd.Series(False, index=bars.index)
        mask.iloc[rows[hits]] = True
        masks[name] = mask
        details[name] = pd.Series([describe(i) for i in hits], index=bars.index[rows[hits]],
                                  dtype=object)

    caught = []
    counts: dict[str, int] = {}
    by_rule = {rule.name: rule for rule in rules}
    for name, mask in masks.items():
        counts[name] = int(mask.sum())
        if mask.any():
            hit = bars[mask].copy()
            hit["rule"] = name
            hit["detail"] = by_rule[name].detail(hit) if name in by_rule else details[name]
            caught.append(hit)
    bad_any = pd.concat(masks.values(), axis=1).any(axis=1)
    quarantined = (
        pd.concat(caught, ignore_index=True)
        if caught
        else bars.iloc[0:0].assign(rule=pd.Series(dtype=str), detail=pd.Series(dtype=str))
    )
    gaps = find_gaps(bars, cfg.calendar, history) if cfg.calendar else find_gaps(bars.iloc[0:0], "")
    counts[GAP] = int(gaps["missing_sessions"].sum()) if len(gaps) else 0
    return GateResult(
        bars[~bad_any].reset_index(drop=True), quarantined, counts, gaps,
        _report(quarantined, gaps),
    )


def _report(quarantined: pd.DataFrame, gaps: pd.DataFrame) -> pd.DataFrame:
    parts = []
    if len(quarantined):
        parts.append(quarantined.groupby(["symbol", "rule"]).size().rename("count").reset_index())
    if len(gaps):
        g = gaps.groupby("symbol")["missing_sessions"].sum().rename("count").reset_index()
        parts.append(g.assign(rule=GAP)[["symbol", "rule", "count"]])
    if not parts:
        return pd.DataFrame({"symbol": pd.Series(dtype=str), "rule": pd.Series(dtype=str),
                             "count": pd.Series(dtype="int64")})
    out = pd.concat(parts, ignore_index=True)
    out["count"] = out["count"].astype("int64")
    return out.sort_values(["symbol", "rule"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------

def report_table(report: pd.DataFrame, top: int = 10, title: str = "quality report") -> Table:
    """Rich table of the ``top`` symbols with the most quarantined bars (then most missing
    sessions), one column per rule that caught anything, and a totals row over all symbols."""
    table = Table(title=title)
    table.add_column("symbol")
    if report is None or report.empty:
        table.add_column("findings", justify="right")
        table.add_row("(all symbols)", "none")
        return table
    wide = report.pivot_table(index="symbol", columns="rule", values="count", aggfunc="sum",
                              fill_value=0)
    rules = [r for r in REPORT_RULES if r in wide.columns] + sorted(
        c for c in wide.columns if c not in REPORT_RULES
    )
    bar_rules = [r for r in rules if r not in (GAP, NO_DATA, PERMANENT_ERROR)]
    wide["_bars"] = wide[bar_rules].sum(axis=1) if bar_rules else 0
    wide["_rank"] = wide["_bars"] + wide[[r for r in rules if r not in bar_rules]].sum(axis=1)
    for rule in rules:
        table.add_column(rule, justify="right", overflow="fold")
    table.add_column("bars quarantined", justify="right")
    worst = wide.sort_values(["_bars", "_rank"], ascending=False, kind="stable").head(top)
    for symbol, row in worst.iterrows():
        table.add_row(str(symbol), *(f"{int(row[r]):,}" for r in rules), f"{int(row['_bars']):,}")
    table.add_section()
    table.add_row(
        f"{len(wide):,} symbols", *(f"{int(wide[r].sum()):,}" for r in rules),
        f"{int(wide['_bars'].sum()):,}", style="bold",
    )
    return table
