"""Performance metrics of a strategy's out-of-sample, after-cost daily returns: pure functions
on numpy / pandas, annualised with 252 bars a year, one module per concept.

=================  ============================================================================
module             metrics
=================  ============================================================================
``performance``    total / annual return (CAGR), volatility, Sharpe, Sortino, Calmar, max
                   drawdown and its duration, VaR / CVaR, alpha / beta (empyrical conventions)
``significance``   probabilistic and deflated Sharpe ratios (Bailey & Lopez de Prado 2012, 2014)
``trading``        win rate, profit factor, turnover, capacity under square-root impact
``signals``        AUC, accuracy, conviction-accuracy correlation, IC decay and alpha half-life
``market``         regime consistency, tail survival, factor returns from bars, crowding
``compute``        ``compute_metrics``: all of the above from whatever inputs a strategy has
=================  ============================================================================
"""

from alphaloop.grading.metrics._inputs import TRADING_DAYS
from alphaloop.grading.metrics.compute import MetricsConfig, compute_metrics
from alphaloop.grading.metrics.market import (
    factor_returns,
    market_regimes,
    regime_consistency,
    regime_returns,
    tail_survival,
)
from alphaloop.grading.metrics.performance import (
    alpha_beta,
    annual_return,
    annual_volatility,
    calmar_ratio,
    conditional_value_at_risk,
    downside_risk,
    drawdown_series,
    longest_drawdown_duration,
    max_drawdown,
    max_drawdown_duration,
    sharpe_ratio,
    sortino_ratio,
    total_return,
    value_at_risk,
)
from alphaloop.grading.metrics.signals import (
    accuracy,
    alpha_half_life,
    auc,
    conviction_accuracy_correlation,
    information_coefficients,
)
from alphaloop.grading.metrics.significance import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    psr_from_moments,
)
from alphaloop.grading.metrics.trading import (
    capacity,
    capacity_from_positions,
    position_weights,
    profit_factor,
    turnover,
    win_rate,
)

__all__ = [
    "TRADING_DAYS", "MetricsConfig", "accuracy", "alpha_beta", "alpha_half_life", "annual_return",
    "annual_volatility", "auc", "calmar_ratio", "capacity", "capacity_from_positions",
    "compute_metrics", "conditional_value_at_risk", "conviction_accuracy_correlation",
    "deflated_sharpe_ratio", "downside_risk", "drawdown_series", "expected_max_sharpe",
    "factor_returns", "information_coefficients", "longest_drawdown_duration", "market_regimes",
    "max_drawdown", "max_drawdown_duration", "position_weights", "probabilistic_sharpe_ratio",
    "profit_factor",
    "psr_from_moments", "regime_consistency", "regime_returns", "sharpe_ratio", "sortino_ratio",
    "tail_survival", "total_return", "turnover", "value_at_risk", "win_rate",
]
