"""The backtester: target positions per (symbol, bar) in; fills, round-trip trades, positions
and a cost-inclusive equity curve out. A numba core loops over bars x symbols; every price,
cost, cap and bracket trigger comes from ``alphaloop.common.fills``, which the execution
service's simulated venue also uses, so a paper replay fills as the backtest did.

Timing (the rule that keeps a backtest honest):

* A target at ``(symbol, t)`` is a decision taken at bar ``t``'s close, with everything known
  then. Its order first fills at bar ``t + 1``'s open, or later (no bar for the symbol yet,
  participation cap, impact statistics not yet known); never on bar ``t``, the bar that
  produced the signal. A fill at bar ``s`` reads only bar ``s``'s own open/high/low/volume and
  statistics that ended at ``s - 1``; nothing after ``s`` is ever read. (The participation cap
  uses bar ``s``'s whole volume, known only at its close: the usual simplification, which sizes
  fills but never informs a decision.)
* Orders fill at the open of a bar: the first attempt at ``t + 1``, carried-forward remainders
  at the opens of later bars. The reference price is the open; a buy pays
  ``open * (1 + half_spread + impact)``, a sell receives ``open * (1 - half_spread - impact)``,
  with ``impact = k * sigma * sqrt(shares / ADV)``; commission is charged in cash on top.
* Weights are sized into shares once, at the symbol's first open after the decision:
  ``weight * equity_at_that_open / open``, equity marked at that bar's opens before its trades;
  a remainder left by the cap keeps that share count.
  With weights given at every close and no costs, the portfolio therefore earns exactly
  ``sum_i w[t-1, i] * (open[t+1, i] / open[t, i] - 1)`` from open ``t`` to open ``t + 1``
  (positions shifted one bar, open-to-open returns), which the tests check to 1e-10.
* A new decision replaces the working target; the order is always ``target - position``, so
  a partial fill's remainder keeps working at later opens until reached or replaced. NaN or a
  missing row means no new decision: the previous target stands, nothing is re-sized.
* Brackets: levels are set from the entry fill price when a position opens from flat (or
  flips); adds do not move them. They are checked from the bar after the entry on: first
  against the open (a gap through a level fills at the open), then against the bar's low and
  high; when one bar touches both, the stop is taken (OHLC cannot tell which came first). A
  stop pays spread and impact (a market order); a take-profit is a limit order at its level
  (or the better open). After a bracket exit the symbol stays flat until a decision different
  from the one in force arrives (re-sending the same target does not re-enter).
* Costs and accounting: cash (short proceeds included) earns 0; short positions pay
  ``borrow_rate_annual / periods_per_year`` of their close value on every bar they are held at
  the close; no margin or leverage limit is enforced. Positions are marked at each close (the
  last close for a symbol without a bar that day). A symbol's bar-less timestamps carry its
  position unchanged.
* ``returns`` (net, per bar) starts at the bar after the first decision, so passing only
  out-of-sample decisions gives out-of-sample returns; the equity curve covers every bar.

See ``BacktestConfig`` for the cost fields and ``BacktestResult`` for the output columns.
"""

from alphaloop.grading.backtest.config import BacktestConfig
from alphaloop.grading.backtest.inputs import BarGrid, bar_grid
from alphaloop.grading.backtest.result import BacktestResult
from alphaloop.grading.backtest.run import backtest

__all__ = ["BacktestConfig", "BacktestResult", "BarGrid", "backtest", "bar_grid"]
