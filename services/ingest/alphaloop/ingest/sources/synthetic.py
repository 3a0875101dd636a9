"""A seeded synthetic universe for scale tests: thousands of symbols, not market data.

Every figure or benchmark made from it must say "synthetic". The model, per symbol ``i`` and
session ``t`` (log returns, ``dt = 1/252``):

    r_it = (mu_i - v_it / 2) dt + beta_i f_t + g_(sector i),t + sigma_i m(s_t) sqrt(dt) z_it + J_it

* ``f_t`` a market factor and ``g_k,t`` sector factors (11 GICS sectors), Gaussian, scaled by
  the regime multiplier ``m(s_t)``; ``s_t`` is a 2-state Markov chain (calm / stressed;
  Hamilton 1989 regime switching) shared by the whole market, so volatility clusters.
* ``J_it`` compound Poisson jumps (Merton 1976): ``N ~ Poisson(lambda_i dt)`` jumps of
  ``N(mu_J, sigma_J^2)`` each, put overnight (gaps, like earnings surprises).
* The diffusive return is split into an overnight part (a share ``phi`` of the variance, drawn
  as the Brownian bridge point at ``phi``) and an intraday part from open to close; the high
  and low are the exact extremes of a Brownian bridge from open to close with the intraday
  variance (``max = (b + sqrt(b^2 + 2 v E)) / 2``, ``E = -ln U ~ Exp(1)``), so ``high >= max(open, close)`` and
  ``low <= min(open, close)`` by construction.
* Volume is lognormal around a per-symbol level and rises with ``|r|`` relative to calm
  volatility (more trading on big-move days and in stressed regimes).

Symbol ``i`` draws from its own stream ``SeedSequence(seed, spawn_key=(1, i))`` and the
market/sector factors from streams keyed only by ``seed``, so a symbol's series is the same
whether 10 or 5,000 symbols are asked for. Sessions are the XNYS calendar's from ``start``
(``calendar=None``: plain Monday-Friday business days).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import cache

import numpy as np
import pandas as pd
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.common.errors import InvalidInputError
from alphaloop.ingest.sources.base import (
    SYMBOL_COLUMNS,
    BarSource,
    PermanentSymbolError,
    RateLimit,
)

_FLOAT_FIELDS = ("open", "high", "low", "close", "volume", "vwap")
SECTORS = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)
_SYMBOL = re.compile(r"^SYN(\d{5})$")
_DT = 1.0 / 252.0
_CHUNK = 256  # symbols simulated together: bounds temporaries, keeps arrays in cache

# Model constants (annualised where they are volatilities or drifts).
MARKET_VOL = 0.15
SECTOR_VOL = 0.07
REGIME_VOL = (1.0, 2.0)  # volatility multiplier in the calm and the stressed regime
REGIME_SWITCH = (0.015, 0.07)  # P(leave calm), P(leave stressed) per session
OVERNIGHT_SHARE = 0.25  # share of diffusive variance realised between close and next open
JUMP_MEAN, JUMP_VOL = -0.005, 0.06
VOLUME_BETA, VOLUME_NOISE = 0.25, 0.45  # log volume per unit |r|/sigma_calm, and its noise


class SyntheticConfig(BaseSettings):
    """Settings of the synthetic universe. Environment: ``ALPHALOOP_INGEST_SYNTHETIC_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_INGEST_SYNTHETIC_", frozen=True, extra="forbid"
    )

    n_symbols: int = Field(500, ge=1, le=99_999, description="Symbols SYN00001..SYNnnnnn.")
    n_bars: int = Field(2520, ge=2, description="Daily bars per symbol (2,520 = ~10 years).")
    seed: int = Field(7, ge=0, description="Seed; the same seed gives the same universe.")
    start: date = Field(date(2000, 1, 3), description="First session (on or after this date).")
    calendar: str | None = Field(
        "XNYS", description="exchange-calendars code for the sessions; None: Mon-Fri days."
    )
    batch_size: int = Field(500, ge=1, description="Symbols per hydration batch.")


class SyntheticSource(BarSource):
    """Seeded synthetic daily OHLCV: GBM with jumps, Markov volatility regimes, real-ish volume."""

    name = "synthetic"
    license = "synthetic (seeded), not market data"
    rate_limit = RateLimit(requests=1_000_000, per_seconds=1.0)
    batch_size = 500

    def __init__(
        self,
        n_symbols: int = 500,
        n_bars: int = 2520,
        seed: int = 7,
        start: date | str = "2000-01-03",
        *,
        calendar: str | None = "XNYS",
        batch_size: int = 500,
    ) -> None:
        self.config = SyntheticConfig(
            n_symbols=n_symbols,
            n_bars=n_bars,
            seed=seed,
            start=pd.Timestamp(start).date(),
            calendar=calendar,
            batch_size=batch_size,
        )
        self.batch_size = batch_size

    @classmethod
    def from_config(cls, config: SyntheticConfig) -> SyntheticSource:
        return cls(
            config.n_symbols,
            config.n_bars,
            config.seed,
            config.start,
            calendar=config.calendar,
            batch_size=config.batch_size,
        )

    @property
    def n_symbols(self) -> int:
        return self.config.n_symbols

    @property
    def n_bars(self) -> int:
        return self.config.n_bars

    def sessions(self) -> pd.DatetimeIndex:
        """The bars' timestamps: midnight UTC of each session."""
        return _sessions(self.config.calendar, self.config.start, self.n_bars)

    def symbols(self) -> pd.DataFrame:
        idx = np.arange(1, self.n_symbols + 1)
        sector = np.array(SECTORS, dtype=object)[[_params(self.config.seed, i)[0] for i in idx]]
        return pd.DataFrame(
            {
                "symbol": [_symbol(i) for i in idx],
                "name": [f"Synthetic {i:05d}" for i in idx],
                "sector": sector,
                "industry": "",
            },
            columns=SYMBOL_COLUMNS,
        )

    def fetch(
        self,
        symbols: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        interval: str = "1d",
    ) -> pd.DataFrame:
        if interval != "1d":
            raise InvalidInputError(
                "interval", f"the synthetic source makes daily bars, not {interval}"
            )
        indices = [self._index(s) for s in symbols]
        bars = self.generate(indices)
        if start is None and end is None:
            return bars
        mask = np.ones(len(bars), dtype=bool)
        if start is not None:
            mask &= (bars["ts"] >= pd.Timestamp(start, tz="UTC")).to_numpy()
        if end is not None:
            mask &= (bars["ts"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)).to_numpy()
        return bars[mask].reset_index(drop=True)

    def generate(self, indices: Sequence[int] | None = None) -> pd.DataFrame:
        """Bars for symbol numbers ``indices`` (1-based; default all), sorted by symbol, ts."""
        idx = np.arange(1, self.n_symbols + 1) if indices is None else np.asarray(indices, int)
        ts = self.sessions()
        n, m = len(idx), len(ts)
        # One (field, row) float block, handed to pandas as its float block without a copy:
        # at 5,000 x 2,520 every extra pass over 12.6M rows costs about a second.
        block = np.empty((len(_FLOAT_FIELDS), n * m))
        counts = np.empty(n * m, dtype=np.int64)
        self.simulate(
            idx, out=block.reshape(len(_FLOAT_FIELDS), n, m), trade_count=counts.reshape(n, m)
        )
        out = pd.DataFrame(block.T, columns=list(_FLOAT_FIELDS), copy=False)
        # The float block is adopted as is; insert() copies each remaining column once.
        names = np.array([_symbol(i) for i in idx], dtype=object)
        out.insert(0, "symbol", np.repeat(names, m))
        out.insert(1, "interval", _constant("1d", n * m))
        out.insert(2, "ts", pd.DatetimeIndex(np.tile(ts.to_numpy(), n)).tz_localize("UTC"))
        out.insert(9, "trade_count", pd.arrays.IntegerArray(counts, np.zeros(n * m, bool)))
        out.insert(10, "source", _constant(self.name, n * m))
        return out

    def simulate(
        self,
        indices: Sequence[int],
        out: np.ndarray | None = None,
        trade_count: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The raw arrays, shape (len(indices), n_bars): open, high, low, close, volume, vwap,
        trade_count, plus ``regime`` (1 where the market is stressed, shape (n_bars,)).

        ``out`` (shape (6, len(indices), n_bars), fields in that order) and ``trade_count``
        receive the values in place when given.
        """
        idx = np.asarray(indices, dtype=int)
        k, m = len(idx), self.n_bars
        regime, market, sectors = _market(self.config.seed, m)
        vol_mult = np.where(regime == 1, REGIME_VOL[1], REGIME_VOL[0])
        if out is None:
            out = np.empty((len(_FLOAT_FIELDS), k, m))
        if trade_count is None:
            trade_count = np.empty((k, m), dtype=np.int64)
        chunks = [slice(lo, lo + _CHUNK) for lo in range(0, k, _CHUNK)]

        def run(rows: slice) -> None:
            _simulate_chunk(
                self.config.seed,
                idx[rows],
                m,
                vol_mult,
                market,
                sectors,
                out[:, rows],
                trade_count[rows],
            )

        # Chunks write disjoint rows from per-symbol streams, so threads cannot change the
        # result; numpy releases the GIL in its loops and generators, so they use every core.
        with ThreadPoolExecutor(max_workers=min(len(chunks), os.cpu_count() or 1, 8)) as pool:
            list(pool.map(run, chunks))
        result = {field: out[j] for j, field in enumerate(_FLOAT_FIELDS)}
        result["trade_count"] = trade_count
        result["regime"] = regime
        return result

    def _index(self, symbol: str) -> int:
        match = _SYMBOL.match(symbol)
        if match is None or not 1 <= int(match.group(1)) <= self.n_symbols:
            raise PermanentSymbolError(
                symbol, f"not in the synthetic universe SYN00001..{_symbol(self.n_symbols)}"
            )
        return int(match.group(1))


def _constant(value: str, n: int) -> np.ndarray:
    return np.repeat(np.array([value], dtype=object), n)  # 2-3x faster than np.full(object)


def _symbol(i: int) -> str:
    return f"SYN{i:05d}"


def _params(seed: int, i: int) -> tuple[int, np.random.Generator, np.ndarray]:
    """(sector, the symbol's generator positioned after its parameters, parameters)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, int(i))))
    sector = int(rng.integers(len(SECTORS)))
    u = rng.random(7)
    z = rng.standard_normal(4)
    params = np.array(
        [
            np.clip(1.0 + 0.3 * z[0], 0.2, 2.2),  # beta
            np.clip(0.20 * np.exp(0.35 * z[1]), 0.08, 1.0),  # idiosyncratic vol (annual)
            0.07 + 0.06 * z[2],  # drift (annual)
            1.0 + 5.0 * u[0],  # jumps per year
            np.exp(np.log(40.0) + 0.9 * z[3]),  # first close
            np.exp(np.log(1.5e6) + 1.0 * (u[1] - 0.5) * 3.0),  # typical daily volume
            80.0 + 220.0 * u[2],  # shares per trade
        ]
    )
    return sector, rng, params


def _market(seed: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regime path (0 calm, 1 stressed), market factor shocks and sector factor shocks."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    u = rng.random(m)
    regime = np.empty(m, dtype=np.int8)
    state = 0
    for t in range(m):  # a Markov chain is sequential; m scalar steps cost ~1 ms
        if u[t] < REGIME_SWITCH[state]:
            state = 1 - state
        regime[t] = state
    mult = np.where(regime == 1, REGIME_VOL[1], REGIME_VOL[0])
    scale = mult * np.sqrt(_DT)
    market = MARKET_VOL * scale * rng.standard_normal(m)
    sectors = SECTOR_VOL * scale * rng.standard_normal((len(SECTORS), m))
    return regime, market, sectors


def _simulate_chunk(
    seed: int,
    idx: np.ndarray,
    m: int,
    vol_mult: np.ndarray,
    market: np.ndarray,
    sectors: np.ndarray,
    out: np.ndarray,
    trade_count: np.ndarray,
) -> None:
    k = len(idx)
    z = np.empty((k, 3, m))  # idiosyncratic, bridge split, volume noise
    e = np.empty((k, 2, m))  # Exp(1) draws (= -ln U) for the high and the low
    jumps = np.zeros((k, m))
    sector = np.empty(k, dtype=int)
    p = np.empty((k, 7))
    for row, i in enumerate(idx):
        sector[row], rng, p[row] = _params(seed, i)
        z[row] = rng.standard_normal((3, m))
        e[row] = rng.standard_exponential((2, m))
        count = rng.poisson(p[row, 3] * _DT, m)
        days = count.nonzero()[0]
        jumps[row, days] = count[days] * JUMP_MEAN + np.sqrt(
            count[days]
        ) * JUMP_VOL * rng.standard_normal(len(days))
    beta, sigma, mu, _, first_close, volume_level, trade_size = (p[:, j : j + 1] for j in range(7))

    calm_var = ((beta * MARKET_VOL) ** 2 + SECTOR_VOL**2 + sigma**2) * _DT
    variance = calm_var * vol_mult**2
    shock = beta * market + sectors[sector] + (sigma * np.sqrt(_DT)) * vol_mult * z[:, 0]
    drift = mu * _DT - 0.5 * variance
    # Overnight share of the diffusive move: the Brownian bridge point at variance share phi.
    phi = OVERNIGHT_SHARE
    shock_on = phi * shock + np.sqrt(phi * (1 - phi) * variance) * z[:, 1]
    r_on = phi * drift + shock_on + jumps
    r_id = (1 - phi) * drift + (shock - shock_on)
    r = r_on + r_id
    log_close = np.log(first_close) + np.cumsum(r, axis=1)
    open_, high, low, close, volume, vwap = out
    np.exp(log_close - r_id, out=open_)
    np.exp(log_close, out=close)
    v_id = (1 - phi) * variance
    # The bridge's extremes relative to the open; max/min with open and close only absorb
    # float rounding (exp of differently summed logs).
    half_hi = 0.5 * (r_id + np.sqrt(r_id**2 + 2.0 * v_id * e[:, 0]))
    half_lo = 0.5 * (r_id - np.sqrt(r_id**2 + 2.0 * v_id * e[:, 1]))
    np.maximum(open_ * np.exp(half_hi), np.maximum(open_, close), out=high)
    np.minimum(open_ * np.exp(half_lo), np.minimum(open_, close), out=low)

    surprise = np.minimum(np.abs(r) / np.sqrt(calm_var), 8.0) - np.sqrt(2.0 / np.pi)
    log_volume = (
        np.log(volume_level)
        - 0.5 * VOLUME_NOISE**2
        + VOLUME_BETA * surprise
        + VOLUME_NOISE * z[:, 2]
    )
    np.round(np.exp(log_volume), out=volume)
    np.divide(high + low + close, 3.0, out=vwap)  # the typical price: inside [low, high]
    np.maximum(1, np.round(volume / trade_size), out=trade_count, casting="unsafe")


@cache
def _sessions(calendar: str | None, start: date, n_bars: int) -> pd.DatetimeIndex:
    if calendar is None:
        days = pd.bdate_range(start, periods=n_bars)
    else:
        import exchange_calendars as xcals

        try:
            cal = xcals.get_calendar(calendar, start=pd.Timestamp(start))
        except Exception as exc:  # an unknown code, or a start before the calendar's data
            raise InvalidInputError("calendar", f"{calendar}: {exc}") from exc
        days = cal.sessions[cal.sessions >= pd.Timestamp(start)][:n_bars]
        if len(days) < n_bars:
            raise InvalidInputError(
                "n_bars",
                f"{calendar} has only {len(days)} sessions from {start}; ask for fewer bars, an "
                "earlier start, or calendar=None for plain business days",
            )
    return pd.DatetimeIndex(days).tz_localize(None).as_unit("ns")
