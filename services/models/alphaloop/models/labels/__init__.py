"""Labels for supervised trading models (AFML ch. 3-4): triple-barrier labels, meta-labels for a
primary strategy's side, and sample-uniqueness weights for overlapping labels."""

from alphaloop.models.labels.meta import meta_labels, meta_labels_by_symbol, to_meta_labels
from alphaloop.models.labels.triple_barrier import (
    daily_volatility,
    triple_barrier,
    triple_barrier_by_symbol,
)
from alphaloop.models.labels.weights import (
    average_uniqueness,
    bootstrap_draw_probabilities,
    concurrency,
    return_attribution_weights,
    sample_weights_by_symbol,
    sequential_bootstrap,
    time_decay,
)

__all__ = [
    "average_uniqueness",
    "bootstrap_draw_probabilities",
    "concurrency",
    "daily_volatility",
    "meta_labels",
    "meta_labels_by_symbol",
    "return_attribution_weights",
    "sample_weights_by_symbol",
    "sequential_bootstrap",
    "time_decay",
    "to_meta_labels",
    "triple_barrier",
    "triple_barrier_by_symbol",
]
