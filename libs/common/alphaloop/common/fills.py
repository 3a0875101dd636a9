"""The fill model shared by the backtester's numba core and the execution service's simulated
venue, so a paper replay fills exactly as the backtest did: the price of a fill (half spread
plus square-root impact), commissions, the per-bar participation cap, and bracket (stop-loss /
take-profit) levels and triggers on a bar's open, high and low.

Every function is pure, takes and returns plain floats/ints, and is ``@njit(cache=True)`` so
numba code can call it; plain Python can call it too. Where numba is not installed (the
execution extra does not require it) the decorator falls back to the plain function, with the
same results.

Conventions (signed quantities: + buys / long, - sells / short; ``side`` is +1 or -1):

* Price impact and the half spread are fractions of the reference price. A buy pays
  ``ref * (1 + half_spread + impact)``, a sell receives ``ref * (1 - half_spread - impact)``.
* Square-root impact (Almgren et al. 2005; Grinold & Kahn, *Active Portfolio Management*,
  ch. 16): ``impact = k * sigma * sqrt(shares / ADV)``, ``sigma`` the daily volatility of
  returns and ``ADV`` the average daily volume, both as known before the order is filled.
* Brackets: a long's stop sits below the entry and its take-profit above (a short's the other
  way round). On a later bar, a gap through a level fills at the open; otherwise a touch of the
  stop by the low (long) or high (short) fills at the stop, and a touch of the take-profit at
  the take-profit. When one bar touches both, the stop is assumed to have hit first: OHLC cannot
  tell the order, and assuming the worse outcome keeps backtests honest.
* A triggered stop becomes a market order: it pays the half spread and impact on top of its
  reference price (the level, or the open on a gap). A take-profit is a resting limit order: it
  fills at its level, or at the better open on a gap, with no spread or impact. Both pay
  commission.
"""

from __future__ import annotations

import math

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is absent only in slim execution images

    def njit(*args, **kwargs):  # type: ignore[no-redef]
        if args and callable(args[0]):
            return args[0]
        return lambda func: func


__all__ = [
    "NO_TRIGGER",
    "REASON_NAMES",
    "REASON_SIGNAL",
    "REASON_STOP",
    "REASON_TAKE_PROFIT",
    "borrow_cost",
    "bracket_fill_price",
    "bracket_levels",
    "bracket_trigger",
    "commission",
    "fill_price",
    "participation_cap",
    "round_to_lot",
    "sqrt_impact",
]

#: Why a fill happened. Stored as small ints in numba arrays; ``REASON_NAMES`` maps them back.
REASON_SIGNAL = 0
REASON_STOP = 1
REASON_TAKE_PROFIT = 2
REASON_NAMES = ("signal", "stop", "take_profit")
#: ``bracket_trigger``'s answer when neither level was reached.
NO_TRIGGER = -1

_BPS = 1e-4


@njit(cache=True)
def fill_price(side, reference_price, half_spread_bps, impact):
    """Execution price of a market order of sign ``side`` (+1 buy, -1 sell) against
    ``reference_price``: the half spread (in basis points) and the impact (a fraction of the
    price, e.g. from ``sqrt_impact``) are both paid against the trader."""
    return reference_price * (1.0 + side * (half_spread_bps * _BPS + impact))


@njit(cache=True)
def sqrt_impact(k, sigma, shares, adv):
    """Square-root market impact as a fraction of the price: ``k * sigma * sqrt(|shares| / adv)``.

    ``sigma`` (daily volatility of returns) and ``adv`` (average daily volume) must be known
    before the fill. Returns 0.0 when ``k`` or ``shares`` is 0, and NaN when the impact is
    needed but cannot be modelled (``sigma`` or ``adv`` NaN, or ``adv`` not positive): callers
    decide whether to wait or to fill without it."""
    if k == 0.0 or shares == 0.0:
        return 0.0
    if math.isnan(sigma) or not (adv > 0.0):
        return math.nan
    return k * sigma * math.sqrt(abs(shares) / adv)


@njit(cache=True)
def commission(shares, price, per_share, bps, minimum):
    """Commission of one fill of ``shares`` at ``price``: ``per_share * |shares|`` plus ``bps``
    basis points of the notional, and at least ``minimum`` for any non-zero fill (the minimum
    applies to the sum, as brokers' tiered schedules do). Zero shares cost nothing."""
    if shares == 0.0:
        return 0.0
    fee = per_share * abs(shares) + bps * _BPS * abs(shares) * price
    return max(fee, minimum)


@njit(cache=True)
def round_to_lot(shares, lot_size):
    """``shares`` rounded toward zero to a multiple of ``lot_size`` (0 keeps fractions)."""
    if lot_size <= 0.0:
        return shares
    lots = math.floor(abs(shares) / lot_size + 1e-9)
    return math.copysign(lots * lot_size, shares) if lots > 0 else 0.0


@njit(cache=True)
def participation_cap(order_shares, bar_volume, max_participation, used_shares, lot_size):
    """The signed part of ``order_shares`` that may fill in a bar of ``bar_volume`` when at most
    ``max_participation`` of that volume may be ours and ``used_shares`` (unsigned) already
    filled in this bar. ``max_participation`` of ``inf`` means no cap. The rest of the order is
    the caller's to carry to later bars. The capped quantity is rounded down to whole lots."""
    if max_participation == math.inf:
        return order_shares
    room = max_participation * bar_volume - used_shares
    if not (room > 0.0):
        return 0.0
    if abs(order_shares) <= room:
        return order_shares
    return round_to_lot(math.copysign(room, order_shares), lot_size)


@njit(cache=True)
def bracket_levels(side, entry_price, stop_loss, take_profit):
    """(stop, take_profit) price levels for a position of sign ``side`` entered at
    ``entry_price``, from fractions of the entry price (e.g. 0.05 = 5%). A fraction that is NaN
    or not positive means no such level, returned as NaN."""
    stop = math.nan
    take = math.nan
    if stop_loss > 0.0:
        stop = entry_price * (1.0 - side * stop_loss)
    if take_profit > 0.0:
        take = entry_price * (1.0 + side * take_profit)
    return stop, take


@njit(cache=True)
def bracket_trigger(side, open_, high, low, stop, take_profit):
    """Whether a bar hits the bracket of a position of sign ``side``, and at which price.

    Returns ``(reason, price)``: ``reason`` is ``REASON_STOP``, ``REASON_TAKE_PROFIT`` or
    ``NO_TRIGGER``; ``price`` is the reference price of the exit (the open on a gap through a
    level, else the level itself). A NaN level never triggers. Order of checks: a gap at the
    open decides first (the open is the first price of the bar); within the bar the stop wins
    when both levels were touched."""
    has_stop = not math.isnan(stop)
    has_take = not math.isnan(take_profit)
    if side > 0:
        if has_stop and open_ <= stop:
            return REASON_STOP, open_
        if has_take and open_ >= take_profit:
            return REASON_TAKE_PROFIT, open_
        if has_stop and low <= stop:
            return REASON_STOP, stop
        if has_take and high >= take_profit:
            return REASON_TAKE_PROFIT, take_profit
    elif side < 0:
        if has_stop and open_ >= stop:
            return REASON_STOP, open_
        if has_take and open_ <= take_profit:
            return REASON_TAKE_PROFIT, open_
        if has_stop and high >= stop:
            return REASON_STOP, stop
        if has_take and low <= take_profit:
            return REASON_TAKE_PROFIT, take_profit
    return NO_TRIGGER, math.nan


@njit(cache=True)
def bracket_fill_price(exit_side, reason, reference_price, half_spread_bps, impact):
    """Execution price of a bracket exit of sign ``exit_side`` (-1 sells a long, +1 covers a
    short) triggered for ``reason`` at ``reference_price`` (from ``bracket_trigger``): a stop
    pays spread and impact like any market order; a take-profit, a limit order, fills at its
    reference price."""
    if reason == REASON_TAKE_PROFIT:
        return reference_price
    return fill_price(exit_side, reference_price, half_spread_bps, impact)


@njit(cache=True)
def borrow_cost(shares, price, annual_rate, periods_per_year):
    """Borrow fee for holding ``shares`` (only a negative, short position pays) valued at
    ``price`` over one period: ``|shares| * price * annual_rate / periods_per_year``."""
    if shares >= 0.0:
        return 0.0
    return -shares * price * annual_rate / periods_per_year
