"""``compute_metrics``: every grading metric of one strategy's out-of-sample, after-cost daily
returns, from whatever inputs the strategy has. A metric whose inputs were not given is absent
from the result; one whose inputs were given but that is undefined on them (a Calmar ratio
without a drawdown, an AUC with one class) is NaN. The grade and the gate treat both as missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaloop.grading.metrics import market, performance, signals, significance, trading
from alphaloop.grading.metrics._inputs import TRADING_DAYS, ArrayLike, as_returns

Panel = pd.DataFrame | pd.Series


@dataclass(frozen=True)
class MetricsConfig:
    """Settings of the metrics that have one (see each module's docstring for its definition)."""

    annualization: int = TRADING_DAYS  # bars a year
    regime_window: int = 63  # bars of index history behind a regime label
    regime_threshold: float = 0.05  # trailing index return beyond which a regime is bull/bear
    tail_cutoff: float = 0.05  # share of worst market days for tail survival, VaR and CVaR
    ic_horizons: int = 10  # H: IC(h) for h = 1..H feeds the alpha half-life
    ic_min_names: int = 5  # fewest names for a cross-sectional IC on one date
    # k of the square-root impact law for capacity. The backtester's own k defaults to 0
    # (impact off), which would make every strategy's capacity infinite: grading assumes the
    # conservative end of the literature's 0.1-1 unless told otherwise.
    impact_k: float = 1.0


def compute_metrics(
    returns: ArrayLike,
    benchmark: ArrayLike | None = None,
    positions: Panel | None = None,
    trades: pd.DataFrame | None = None,
    probabilities: ArrayLike | None = None,
    labels: ArrayLike | None = None,
    n_trials: int = 1,
    trial_sharpes: ArrayLike | None = None,
    *,
    gross_returns: ArrayLike | None = None,
    adv: Panel | float | None = None,
    sigma: Panel | float | None = None,
    signal: Panel | None = None,
    asset_returns: Panel | None = None,
    factors: pd.DataFrame | None = None,
    config: MetricsConfig = MetricsConfig(),
) -> dict[str, float]:
    """Metrics of ``returns`` (daily, out of sample, after costs).

    ``benchmark``: the index's daily returns (may start earlier: regimes use its history).
    ``positions``: weights (dates x symbols, or one Series; ``trading.position_weights`` makes
    them from shares). ``trades``: round trips with ``net_pnl`` (or ``pnl`` / ``return``); win
    rate and profit factor use closed trades when given, days otherwise.
    ``probabilities`` / ``labels``: out-of-sample predictions and realised labels.
    ``n_trials`` / ``trial_sharpes``: every configuration tried, and their annualised Sharpes.
    ``gross_returns``: returns before costs (the gross alpha of capacity; ``returns`` if absent).
    ``adv`` (currency) and ``sigma`` (daily; from ``asset_returns`` if absent): for capacity.
    ``signal`` / ``asset_returns``: dates x symbols scores and one-bar returns, for the IC decay.
    ``factors``: daily factor returns (e.g. ``market.factor_returns``), for crowding.
    """
    r = as_returns(returns, min_length=2)
    a = config.annualization
    out: dict[str, float] = {"n_days": float(len(r))}
    out.update(_return_metrics(r, config))
    out.update(_significance(r, n_trials, trial_sharpes, a))

    outcomes = trading.trade_outcomes(trades) if trades is not None else r.to_numpy()
    out["win_rate"] = trading.win_rate(outcomes)
    out["profit_factor"] = trading.profit_factor(outcomes)
    if trades is not None:
        out["n_trades"] = float(len(outcomes))

    correlations: dict[str, float] = {}
    if benchmark is not None:
        out.update(_benchmark_metrics(r, as_returns(benchmark, "benchmark"), config))
        correlations["benchmark"] = out["benchmark_correlation"]
    if factors is not None:
        for name, value in market.factor_correlations(r, factors).items():
            out[f"{name}_correlation"] = correlations[name] = value
    if correlations:
        out["crowding"] = market.crowding(correlations)

    if positions is not None:
        out["turnover"] = trading.turnover(positions, a)
        if sigma is None and asset_returns is not None:
            sigma = asset_returns.std()
        if adv is not None and sigma is not None:
            gross = as_returns(gross_returns, "gross_returns") if gross_returns is not None else r
            out["capacity"] = trading.capacity_from_positions(
                float(gross.mean() * a), positions, adv, sigma, config.impact_k, a)

    if probabilities is not None and labels is not None:
        out["n_predictions"] = float(np.size(labels))
        out["auc"] = signals.auc(probabilities, labels)
        out["accuracy"] = signals.accuracy(probabilities, labels)
        out["conviction_accuracy_corr"] = signals.conviction_accuracy_correlation(
            probabilities, labels)

    if signal is not None and asset_returns is not None:
        ic = signals.information_coefficients(signal, asset_returns,
                                              range(1, config.ic_horizons + 1), config.ic_min_names)
        out["ic_1"] = float(ic.iloc[0])
        out["alpha_half_life"] = signals.alpha_half_life(ic)
    return out


def _return_metrics(r: pd.Series, config: MetricsConfig) -> dict[str, float]:
    a = config.annualization
    return {
        "total_return": performance.total_return(r),
        "annual_return": performance.annual_return(r, a),
        "annual_volatility": performance.annual_volatility(r, a),
        "sharpe": performance.sharpe_ratio(r, a),
        "sortino": performance.sortino_ratio(r, a),
        "downside_risk": performance.downside_risk(r, a),
        "calmar": performance.calmar_ratio(r, a),
        "max_drawdown": performance.max_drawdown(r),
        "max_drawdown_duration": float(performance.max_drawdown_duration(r)),
        "longest_drawdown_duration": float(performance.longest_drawdown_duration(r)),
        "value_at_risk": performance.value_at_risk(r, config.tail_cutoff),
        "conditional_value_at_risk": performance.conditional_value_at_risk(r, config.tail_cutoff),
    }


def _significance(r: pd.Series, n_trials: int, trial_sharpes: ArrayLike | None,
                  a: int) -> dict[str, float]:
    n, variance = significance.trial_count_and_variance(n_trials, trial_sharpes, len(r), a)
    out = {"n_trials": float(n),
           "expected_max_sharpe": significance.expected_max_sharpe(n, variance) * math.sqrt(a)}
    if len(r) < 3 or r.max() == r.min():
        return out | {"probabilistic_sharpe": float("nan"), "deflated_sharpe": float("nan")}
    out["probabilistic_sharpe"] = significance.probabilistic_sharpe_ratio(r)
    out["deflated_sharpe"] = significance.deflated_sharpe_ratio(r, n, trial_sharpes,
                                                                annualization=a)
    return out


def _benchmark_metrics(r: pd.Series, b: pd.Series, config: MetricsConfig) -> dict[str, float]:
    alpha, beta = performance.alpha_beta(r, b, config.annualization)
    tail_mean, capture = market.tail_survival(r, b, config.tail_cutoff)
    return {
        "alpha": alpha,
        "beta": beta,
        "benchmark_correlation": market.factor_correlations(r, b.to_frame("b"))["b"],
        "regime_consistency": market.regime_consistency(r, b, config.regime_window,
                                                        config.regime_threshold),
        "tail_mean_return": tail_mean,
        "tail_capture": capture,
    }
