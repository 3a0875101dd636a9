"""Costs, fills and brackets of a backtest: one frozen, documented settings object."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BacktestConfig:
    """How orders fill and what they cost. Every default is zero cost, no cap, no bracket, so
    ``BacktestConfig()`` is the frictionless reference; name the frictions you mean to model.

    Attributes:
        half_spread_bps: half the quoted spread in basis points of the reference price, paid
            by every market order (and by a triggered stop), never by a take-profit (a limit).
        impact_k: the ``k`` of square-root impact ``k * sigma * sqrt(shares / ADV)``, a
            fraction of the price (``k`` around 0.1-1 in the literature); 0 disables impact.
            ``shares`` is one bar's fill (each partial fill is costed on its own).
        volatility_window: bars in the rolling standard deviation of close-to-close returns
            (``sigma``), computed through the bar before the fill (known at decision time).
        adv_window: bars in the rolling average daily volume (``ADV``), same timing as sigma.
        min_history: fewest returns / volumes either rolling statistic needs. While a symbol
            has fewer and ``impact_k > 0``, its orders wait (impact cannot be modelled);
            bracket exits never wait (they fill without the impact term).
        commission_per_share: commission per share filled.
        commission_bps: commission in basis points of the filled notional (adds to per share).
        commission_min: minimum commission of one fill. Each bar's fill of an order counts as
            one fill (a day order re-submitted), so a partial fill pays its own minimum.
        max_participation: the most of a bar's volume the strategy's fills in that bar may take
            (0.1 = 10%); the rest of the order carries forward to later bars' opens. ``None``:
            no cap. Bracket exits are capped too; their remainder is sold at later opens.
        lot_size: orders are rounded toward zero to whole lots of this many shares; 0 trades
            fractional shares (the frictionless reference).
        stop_loss: stop distance as a fraction of the entry fill price (0.05 = 5% below a
            long's entry, above a short's); ``None``: no stop. Set at entry, checked from the
            next bar on.
        take_profit: take-profit distance as a fraction of the entry fill price; ``None``: none.
        borrow_rate_annual: yearly fee on the value of short positions (0.01 = 1% a year),
            accrued on every bar's close value as ``rate / periods_per_year``.
        periods_per_year: bars in a year, for the borrow accrual (252 for daily bars).

    Cash (including short-sale proceeds) earns nothing and no margin or leverage limit is
    enforced: sizing is the caller's decision.
    """

    half_spread_bps: float = 0.0
    impact_k: float = 0.0
    volatility_window: int = 20
    adv_window: int = 20
    min_history: int = 5
    commission_per_share: float = 0.0
    commission_bps: float = 0.0
    commission_min: float = 0.0
    max_participation: float | None = None
    lot_size: float = 0.0
    stop_loss: float | None = None
    take_profit: float | None = None
    borrow_rate_annual: float = 0.0
    periods_per_year: int = 252

    def __post_init__(self) -> None:
        for name in ("half_spread_bps", "impact_k", "commission_per_share", "commission_bps",
                     "commission_min", "lot_size", "borrow_rate_annual"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("stop_loss", "take_profit", "max_participation"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be None or a finite number > 0, got {value!r}")
        if self.stop_loss is not None and self.stop_loss >= 1:
            raise ValueError(f"stop_loss is a fraction of the entry price (< 1), got "
                             f"{self.stop_loss!r}")
        for name in ("volatility_window", "adv_window", "periods_per_year"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 2 <= self.min_history <= min(self.volatility_window, self.adv_window):
            raise ValueError("need 2 <= min_history <= min(volatility_window, adv_window)")

    @property
    def participation(self) -> float:
        """``max_participation`` as the numba core takes it (``inf`` for no cap)."""
        return math.inf if self.max_participation is None else float(self.max_participation)

    @property
    def borrow_rate_per_bar(self) -> float:
        return self.borrow_rate_annual / self.periods_per_year
