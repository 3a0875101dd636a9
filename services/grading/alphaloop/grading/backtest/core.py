"""The numba core of the backtester: one pass over bars x symbols on dense (T, N) arrays.

Per bar ``s`` and symbol, in this order (``alphaloop.grading.backtest``'s docstring states the
timing rules these steps implement):

1. A decision taken at bar ``s - 1``'s close (a non-NaN target) becomes pending.
2. The bracket of a position opened before ``s`` is checked against the open (gap rule).
3. The pending decision is sized (weights against the equity at this open) and the order
   ``target - position`` fills at the open, up to the participation cap; the rest waits.
4. The bracket is checked against the bar's low and high (stop first when both are touched).
5. At the close: mark to market, accrue borrow on shorts, record the position.

Every price, cost, cap and trigger comes from ``alphaloop.common.fills``, the model the
simulated venue also uses. Per-symbol state lives in one (N, S_COLS) float array; fills and
round trips go to growable row buffers whose columns are named below.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from alphaloop.common.fills import (
    NO_TRIGGER,
    REASON_SIGNAL,
    REASON_STOP,
    borrow_cost,
    bracket_fill_price,
    bracket_levels,
    bracket_trigger,
    commission,
    fill_price,
    participation_cap,
    round_to_lot,
    sqrt_impact,
)

kernel = njit(cache=True, error_model="numpy")

#: Cost parameters, packed in one float array (``pack_params`` in ``run.py`` fills it).
(P_HALF_SPREAD, P_IMPACT_K, P_PER_SHARE, P_COMM_BPS, P_COMM_MIN, P_MAX_PART, P_LOT,
 P_BORROW, P_PERIODS) = range(9)
N_PARAMS = 9

#: Per-symbol state: position, last close, working target (shares), the decision in force
#: (value, bracket fractions, bar), a pending decision's bar, the bracket-closed flag and the
#: decision it closed, the reason of orders toward the target, the armed bracket.
(S_POS, S_LAST_CLOSE, S_TARGET, S_VALUE, S_SL, S_TP, S_DECISION, S_PENDING, S_PEND_BAR,
 S_STOPPED, S_STOPPED_VALUE, S_REASON, S_ARMED, S_STOP, S_TAKE, S_ARMED_BAR) = range(16)
S_COLS = 16

#: Columns of the fill buffer.
(F_BAR, F_SYM, F_QTY, F_PRICE, F_REF, F_SPREAD, F_IMPACT, F_COMM, F_REASON, F_POS,
 F_DECISION) = range(11)
FILL_COLS = 11
#: Columns of the round-trip buffer (flat to flat), also the open trip's accumulator row.
(T_SYM, T_SIDE, T_PEAK, T_ENTRY_BAR, T_EXIT_BAR, T_IN_QTY, T_IN_VAL, T_OUT_QTY, T_OUT_VAL,
 T_SPREAD, T_IMPACT, T_COMM, T_BORROW, T_GROSS, T_REASON) = range(15)
TRADE_COLS = 15
#: Columns of the per-bar cost record.
C_SPREAD, C_IMPACT, C_COMM, C_BORROW, C_TRADED = range(5)
COST_COLS = 5

_BPS = 1e-4


@kernel
def _room(buf, rows, need):
    """``buf`` (its first ``rows`` rows in use) with room for ``need`` rows, at least doubling
    when it has to grow."""
    if need <= buf.shape[0]:
        return buf
    grown = np.empty((max(buf.shape[0] * 2, need), buf.shape[1]))
    grown[:rows] = buf[:rows]
    return grown


@kernel
def _sign(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


@kernel
def _book(trips, i, trades, counts, s, q, p0, p1, price, ref, spread_c, impact_c, comm, reason):
    """Add one fill of ``q`` shares (from ``p0`` to ``p1``, not crossing zero) to symbol ``i``'s
    open round trip ``trips[i]``; a trip that ends flat moves to the trade buffer."""
    trip = trips[i]
    if p0 == 0.0:
        sym = trip[T_SYM]
        trip[:] = 0.0
        trip[T_SYM] = sym
        trip[T_SIDE] = _sign(q)
        trip[T_ENTRY_BAR] = s
    if abs(p1) > abs(p0):
        trip[T_IN_QTY] += abs(q)
        trip[T_IN_VAL] += abs(q) * price
    else:
        trip[T_OUT_QTY] += abs(q)
        trip[T_OUT_VAL] += abs(q) * price
    trip[T_SPREAD] += spread_c
    trip[T_IMPACT] += impact_c
    trip[T_COMM] += comm
    trip[T_GROSS] -= q * ref
    if abs(p1) > abs(trip[T_PEAK]):
        trip[T_PEAK] = p1
    if p1 == 0.0:
        trades[counts[1], :] = trip
        trades[counts[1], T_EXIT_BAR] = s
        trades[counts[1], T_REASON] = reason
        counts[1] += 1


@kernel
def _execute(st, trips, acct, costs, fills, trades, counts, s, i, q, after, price, ref, spread_c,
             impact_c, comm, reason):
    """Execute ``q`` shares of symbol ``i`` at ``price`` leaving the position at ``after``:
    cash, cost record, fill buffer, round trips (a flip closes one trip and opens the next, its
    costs split pro rata by shares) and the bracket (armed on a new position, from its fill
    price; disarmed when flat)."""
    p0 = st[i, S_POS]
    acct[0] -= q * price + comm
    costs[s, C_SPREAD] += spread_c
    costs[s, C_IMPACT] += impact_c
    costs[s, C_COMM] += comm
    costs[s, C_TRADED] += abs(q) * price
    row = fills[counts[0]]
    row[F_BAR] = s
    row[F_SYM] = i
    row[F_QTY] = q
    row[F_PRICE] = price
    row[F_REF] = ref
    row[F_SPREAD] = spread_c
    row[F_IMPACT] = impact_c
    row[F_COMM] = comm
    row[F_REASON] = reason
    row[F_POS] = after
    row[F_DECISION] = st[i, S_DECISION]
    counts[0] += 1
    new_position = p0 == 0.0 or (after != 0.0 and _sign(after) != _sign(p0))
    if p0 != 0.0 and new_position:
        share = abs(p0) / abs(q)
        _book(trips, i, trades, counts, s, -p0, p0, 0.0, price, ref, spread_c * share,
              impact_c * share, comm * share, reason)
        rest = 1.0 - share
        _book(trips, i, trades, counts, s, after, 0.0, after, price, ref, spread_c * rest,
              impact_c * rest, comm * rest, reason)
    else:
        _book(trips, i, trades, counts, s, q, p0, after, price, ref, spread_c, impact_c, comm,
              reason)
    st[i, S_POS] = after
    if after == 0.0:
        st[i, S_ARMED] = 0.0
    elif new_position:
        stop, take = bracket_levels(_sign(after), price, st[i, S_SL], st[i, S_TP])
        st[i, S_STOP] = stop
        st[i, S_TAKE] = take
        st[i, S_ARMED] = 0.0 if (math.isnan(stop) and math.isnan(take)) else 1.0
        st[i, S_ARMED_BAR] = s


@kernel
def _order_at_open(st, trips, acct, costs, fills, trades, counts, params, s, i, o, vol, used,
                   sigma, adv):
    """Fill as much of ``target - position`` as the cap allows at the open ``o``. A signal order
    waits when impact is on but cannot be modelled yet; a bracket exit's remainder does not.
    Returns the shares used of the bar's volume."""
    want = st[i, S_TARGET] - st[i, S_POS]
    if want == 0.0:
        return used
    q = participation_cap(want, vol, params[P_MAX_PART], used, params[P_LOT])
    if q == 0.0:
        return used
    reason = int(st[i, S_REASON])
    imp = sqrt_impact(params[P_IMPACT_K], sigma, q, adv)
    if math.isnan(imp):
        if reason == REASON_SIGNAL:
            return used
        imp = 0.0
    price = fill_price(_sign(q), o, params[P_HALF_SPREAD], imp)
    fee = commission(q, price, params[P_PER_SHARE], params[P_COMM_BPS], params[P_COMM_MIN])
    after = st[i, S_TARGET] if q == want else st[i, S_POS] + q
    _execute(st, trips, acct, costs, fills, trades, counts, s, i, q, after, price, o,
             abs(q) * o * params[P_HALF_SPREAD] * _BPS, abs(q) * o * imp, fee, reason)
    return used + abs(q)


@kernel
def _bracket_exit(st, trips, acct, costs, fills, trades, counts, params, target, s, i, reason,
                  ref, vol, used, sigma, adv):
    """Close symbol ``i``'s position on its bracket at reference price ``ref``. The target
    becomes 0 and stays 0 until a decision different from the one in force; the exit fills now
    up to the cap, the rest at later opens. Returns the shares used of the bar's volume."""
    st[i, S_ARMED] = 0.0
    st[i, S_STOPPED] = 1.0
    st[i, S_STOPPED_VALUE] = st[i, S_VALUE]
    st[i, S_TARGET] = 0.0
    st[i, S_REASON] = reason
    if st[i, S_PENDING] == 1.0 and target[int(st[i, S_PEND_BAR]), i] == st[i, S_VALUE]:
        st[i, S_PENDING] = 0.0
    want = -st[i, S_POS]
    q = participation_cap(want, vol, params[P_MAX_PART], used, params[P_LOT])
    if q == 0.0:
        return used
    imp = 0.0
    spread_c = 0.0
    if reason == REASON_STOP:
        imp = sqrt_impact(params[P_IMPACT_K], sigma, q, adv)
        if math.isnan(imp):
            imp = 0.0
        spread_c = abs(q) * ref * params[P_HALF_SPREAD] * _BPS
    price = bracket_fill_price(_sign(q), reason, ref, params[P_HALF_SPREAD], imp)
    fee = commission(q, price, params[P_PER_SHARE], params[P_COMM_BPS], params[P_COMM_MIN])
    after = 0.0 if q == want else st[i, S_POS] + q
    _execute(st, trips, acct, costs, fills, trades, counts, s, i, q, after, price, ref,
             spread_c, abs(q) * ref * imp, fee, reason)
    return used + abs(q)


@kernel
def _activate_pending(st, target, stop_frac, take_frac, i, eq_open, o, target_is_weight, lot):
    """Turn the pending decision into the working target, sized at this open."""
    b = int(st[i, S_PEND_BAR])
    d = target[b, i]
    shares = d * eq_open / o if target_is_weight else d
    st[i, S_TARGET] = round_to_lot(shares, lot)
    st[i, S_VALUE] = d
    st[i, S_SL] = stop_frac[b, i]
    st[i, S_TP] = take_frac[b, i]
    st[i, S_DECISION] = b
    st[i, S_REASON] = REASON_SIGNAL
    st[i, S_PENDING] = 0.0


@kernel
def run_core(open_, high, low, close, volume, sigma, adv, target, stop_frac, take_frac,
             target_is_weight, capital, params):
    """Simulate the strategy. (T, N) float64 arrays, time in rows:

    ``open_ .. volume``: bars, NaN open where a symbol has no bar; ``sigma``, ``adv``: rolling
    statistics known before bar ``s`` opens (already lagged); ``target``: the decision at each
    close (weights of equity, or shares), NaN = no new decision; ``stop_frac``, ``take_frac``:
    bracket fractions that go with each decision (NaN = none). ``params``: see ``P_*``.

    Returns positions (T, N) at each close, equity at the close (T), equity at the open before
    trading (T), cash (T), costs (T, COST_COLS), fills (n, FILL_COLS) and round trips
    (m, TRADE_COLS); a trip still open at the end has exit bar -1, reason -1 and its gross P&L
    marked at the last close.
    """
    n_bars, n_sym = open_.shape
    positions = np.zeros((n_bars, n_sym))
    equity = np.empty(n_bars)
    equity_open = np.empty(n_bars)
    cash = np.empty(n_bars)
    costs = np.zeros((n_bars, COST_COLS))
    acct = np.array([capital])
    counts = np.zeros(2, dtype=np.int64)
    fills = np.empty((max(64, 4 * n_sym), FILL_COLS))
    trades = np.empty((max(64, 4 * n_sym), TRADE_COLS))
    trips = np.zeros((n_sym, TRADE_COLS))
    st = np.zeros((n_sym, S_COLS))
    for i in range(n_sym):
        trips[i, T_SYM] = i
        st[i, S_LAST_CLOSE] = np.nan
        st[i, S_VALUE] = np.nan
        st[i, S_SL] = np.nan
        st[i, S_TP] = np.nan
        st[i, S_DECISION] = -1.0

    for s in range(n_bars):
        if s > 0:  # 1. decisions of the previous close become pending
            for i in range(n_sym):
                d = target[s - 1, i]
                if math.isnan(d):
                    continue
                if not (st[i, S_STOPPED] == 1.0 and d == st[i, S_STOPPED_VALUE]):
                    st[i, S_STOPPED] = 0.0
                    st[i, S_PENDING] = 1.0
                    st[i, S_PEND_BAR] = s - 1

        # at most three fills per symbol and bar (gap exit, order, intrabar exit), each closing
        # at most one round trip: make room once per bar so the inner loop never reallocates
        fills = _room(fills, counts[0], counts[0] + 3 * n_sym)
        trades = _room(trades, counts[1], counts[1] + 3 * n_sym)
        eq_open = acct[0]
        for i in range(n_sym):
            if st[i, S_POS] != 0.0:
                px = st[i, S_LAST_CLOSE] if math.isnan(open_[s, i]) else open_[s, i]
                eq_open += st[i, S_POS] * px
        equity_open[s] = eq_open

        for i in range(n_sym):
            o = open_[s, i]
            if math.isnan(o):
                continue
            vol = 0.0 if math.isnan(volume[s, i]) else volume[s, i]
            used = 0.0
            if st[i, S_ARMED] == 1.0 and st[i, S_ARMED_BAR] < s:  # 2. bracket vs the open
                reason, ref = bracket_trigger(_sign(st[i, S_POS]), o, o, o, st[i, S_STOP],
                                              st[i, S_TAKE])
                if reason != NO_TRIGGER:
                    used = _bracket_exit(
                        st, trips, acct, costs, fills, trades, counts, params, target, s, i,
                        reason, ref, vol, used, sigma[s, i], adv[s, i])
            if st[i, S_PENDING] == 1.0:  # 3. size the decision, trade toward it
                _activate_pending(st, target, stop_frac, take_frac, i, eq_open, o,
                                  target_is_weight, params[P_LOT])
            if st[i, S_TARGET] != st[i, S_POS]:
                used = _order_at_open(st, trips, acct, costs, fills, trades, counts, params, s,
                                      i, o, vol, used, sigma[s, i], adv[s, i])
            if st[i, S_ARMED] == 1.0 and st[i, S_ARMED_BAR] < s:  # 4. bracket in the bar
                reason, ref = bracket_trigger(_sign(st[i, S_POS]), o, high[s, i], low[s, i],
                                              st[i, S_STOP], st[i, S_TAKE])
                if reason != NO_TRIGGER:
                    used = _bracket_exit(
                        st, trips, acct, costs, fills, trades, counts, params, target, s, i,
                        reason, ref, vol, used, sigma[s, i], adv[s, i])

        value = 0.0  # 5. the close
        for i in range(n_sym):
            c = close[s, i]
            if not math.isnan(c):
                st[i, S_LAST_CLOSE] = c
            p = st[i, S_POS]
            if p != 0.0:
                fee = borrow_cost(p, st[i, S_LAST_CLOSE], params[P_BORROW], params[P_PERIODS])
                if fee != 0.0:
                    acct[0] -= fee
                    costs[s, C_BORROW] += fee
                    trips[i, T_BORROW] += fee
                value += p * st[i, S_LAST_CLOSE]
            positions[s, i] = p
        cash[s] = acct[0]
        equity[s] = acct[0] + value

    trades = _room(trades, counts[1], counts[1] + n_sym)
    for i in range(n_sym):
        if st[i, S_POS] != 0.0:
            trips[i, T_GROSS] += st[i, S_POS] * st[i, S_LAST_CLOSE]
            trades[counts[1], :] = trips[i]
            trades[counts[1], T_EXIT_BAR] = -1.0
            trades[counts[1], T_REASON] = -1.0
            counts[1] += 1
    return (positions, equity, equity_open, cash, costs, fills[:counts[0]].copy(),
            trades[:counts[1]].copy())
