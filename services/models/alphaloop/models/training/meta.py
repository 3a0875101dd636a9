"""Meta-labelling of the primary model (AFML 3.6-3.7): a secondary classifier learns whether
trading the primary model's side pays, and its probability ``p_meta`` filters the ML strategy.

The primary's side at each event is ``sign(p_cal - 0.5)`` (0, no trade, within ``min_edge`` of
0.5), always from probabilities of a model that did not see the event: the cross-fitted
out-of-fold (OOF) ``p_cal`` on the training period, the final model's ``p_cal`` on the test
period. The meta label is 1 when the side's trade won: the event is labelled again by the triple
barrier on the same path, barriers and volatility as the primary labels, with that side
(``labels.meta.to_meta_labels``; with asymmetric ``pt_sl`` the side's profit-taking barrier is
the wide one, so the outcome is not simply the primary label flipped). Meta features are the
primary features plus ``p_primary`` (the primary's ``p_cal``).

The meta classifier is cross-validated with purged k-fold on the meta events' own label ends
(the side's ``t1``), giving OOF ``p_meta`` and fold scores, then refitted on every meta event
of the training period and applied to the test events that have a side. One pooled meta model
serves both training modes. Sample weights are the primary events' (uniqueness of the primary
labels; equal to the side's when the barriers are symmetric).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from alphaloop.common.errors import InvalidInputError
from alphaloop.models.cv import PurgedKFold
from alphaloop.models.dataset import BARRIER_NAMES, LabelSettings, TrainingSet, label_path
from alphaloop.models.labels.meta import to_meta_labels
from alphaloop.models.labels.triple_barrier import label_positions
from alphaloop.models.training.classifiers import ProbabilisticClassifier, make_classifier
from alphaloop.models.training.config import MetaSettings, TrainConfig

logger = logging.getLogger("alphaloop.models.training.meta")

#: The meta feature holding the primary model's calibrated probability.
P_PRIMARY = "p_primary"
#: Columns the meta stage adds to ``TrainResult.oof`` (plus ``meta_fold``) and ``.test``.
META_COLUMNS = ("side", "meta_y", "p_meta")
META_SCORES = ("auc", "accuracy", "precision", "log_loss")


def primary_side(p_cal: np.ndarray | pd.Series, min_edge: float = 0.0) -> np.ndarray:
    """The primary's bet per event: +1 where ``p_cal - 0.5 > min_edge``, -1 where
    ``0.5 - p_cal > min_edge``, else 0 (no trade; also for NaN). The edge is rounded to 1e-9,
    as ``ml_signal`` rounds it, so float noise around 0.5 takes no side."""
    edge = np.round(np.asarray(p_cal, dtype=np.float64) - 0.5, 9)
    with np.errstate(invalid="ignore"):
        return np.where(edge > min_edge, 1, np.where(edge < -min_edge, -1, 0)).astype(np.int64)


def side_outcomes(bars: pd.DataFrame, events: pd.DataFrame, side: np.ndarray,
                  labels: LabelSettings) -> pd.DataFrame:
    """Triple-barrier outcome of trading ``side`` (+1 / -1; 0 = no trade) at each event.

    ``events``: rows of a :class:`TrainingSet` frame (``symbol``, ``t0``, ``trgt``), from bars
    ``bars`` labelled with ``labels``. Returns a frame indexed like ``events`` with ``side``,
    and for the traded events with a known outcome ``t1`` (the side's touch), ``label``
    (side-adjusted: +1 the side won, -1 lost, 0 a flat vertical touch), ``ret`` (the side's
    return), ``barrier`` and ``meta_y`` (1 won, 0 not); NaN / NaT / None elsewhere."""
    return _side_outcomes(label_path(bars, labels), events, side, labels)


def _side_outcomes(paths: tuple[pd.DataFrame, np.ndarray, np.ndarray], events: pd.DataFrame,
                   side: np.ndarray, labels: LabelSettings) -> pd.DataFrame:
    side = np.asarray(side, dtype=np.float64)
    if side.shape[0] != len(events):
        raise InvalidInputError("side", f"{side.shape[0]} sides for {len(events)} events")
    frame, path, last = paths
    rows = _key(frame["symbol"], frame["ts"]).get_indexer(_key(events["symbol"], events["t0"]))
    if (rows < 0).any():
        raise InvalidInputError("events", f"{int((rows < 0).sum())} events have no bar")
    traded = np.flatnonzero(np.isfinite(side) & (side != 0))
    found = label_positions(path, rows[traded].astype(np.int64), last[rows[traded]],
                            events["trgt"].to_numpy(dtype=np.float64)[traded], side[traded],
                            labels.pt_sl, labels.vertical_bars)
    known = traded[found["keep"]]
    n = len(events)
    t1 = pd.Series(pd.NaT, index=range(n), dtype=frame["ts"].dtype)
    t1.iloc[known] = frame["ts"].array[found["touch"]]
    out = pd.DataFrame({"side": np.where(np.isfinite(side), side, 0).astype(np.int64),
                        "t1": t1.array, "label": np.full(n, np.nan), "ret": np.full(n, np.nan),
                        "barrier": np.full(n, None, dtype=object),
                        "meta_y": np.full(n, np.nan)}, index=events.index)
    barriers = pd.DataFrame({"label": found["label"]})
    out.iloc[known, out.columns.get_loc("label")] = found["label"]
    out.iloc[known, out.columns.get_loc("ret")] = found["ret"]
    out.iloc[known, out.columns.get_loc("barrier")] = \
        np.asarray(BARRIER_NAMES, dtype=object)[found["barrier"]]
    out.iloc[known, out.columns.get_loc("meta_y")] = to_meta_labels(barriers)["label"].to_numpy()
    return out


def meta_scores(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Scores of meta probabilities ``p`` against meta labels ``y`` (1: the side won): AUC (NaN
    with one class), accuracy and precision of the decision ``p >= threshold`` (precision: the
    share of kept trades that won, NaN when none is kept), log loss, ``primary_precision`` (the
    share of all the primary's trades that won: the precision without the filter) and ``kept``
    (the share of trades the filter keeps)."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    nan = float("nan")
    if len(y) == 0:
        return {k: nan for k in (*META_SCORES, "primary_precision", "kept")}
    take = p >= threshold
    return {
        "auc": float(roc_auc_score(y, p)) if np.unique(y).shape[0] == 2 else nan,
        "accuracy": float(np.mean(take == (y == 1))),
        "precision": float(np.mean(y[take])) if take.any() else nan,
        "log_loss": float(log_loss(y, np.clip(p, 0.0, 1.0), labels=[0, 1])),
        "primary_precision": float(np.mean(y)),
        "kept": float(np.mean(take)),
    }


@dataclass
class MetaResult:
    """The meta-label model and its out-of-sample evidence. ``oof`` / ``test`` are indexed like
    ``TrainResult.oof`` / ``.test`` with ``side``, ``meta_y`` (NaN: no side or no outcome) and
    ``p_meta`` (NaN without a side); ``oof`` also has ``meta_fold`` (-1: not a meta event)."""

    settings: MetaSettings
    model_class: str
    model: ProbabilisticClassifier
    feature_names: list[str]
    cv_folds: pd.DataFrame
    oof: pd.DataFrame
    test: pd.DataFrame

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    def predict(self, features: pd.DataFrame, p_cal: np.ndarray) -> np.ndarray:
        """``p_meta`` of events given their primary features and the primary's ``p_cal``: NaN
        where the primary takes no side."""
        side = primary_side(p_cal, self.settings.min_edge)
        out = np.full(len(features), np.nan)
        if (side != 0).any():
            X = _with_primary(features[self.feature_names[:-1]].reset_index(drop=True), p_cal)
            out[side != 0] = self.model.predict_proba(X[side != 0])
        return out

    def cv_mean(self) -> dict[str, float]:
        return {s: float(self.cv_folds[s].mean()) for s in META_SCORES}

    def oof_metrics(self) -> dict[str, float]:
        return _scores_of(self.oof, self.threshold)

    def test_metrics(self) -> dict[str, float]:
        return _scores_of(self.test, self.threshold)

    def importances(self) -> pd.Series:
        return self.model.feature_importances()

    def metrics(self) -> dict[str, float]:
        """Flat ``meta_*`` metrics for tracking: CV means and folds, pooled OOF and test
        scores (with the primary's own precision on the same trades), event counts and the
        importance of ``p_primary``."""
        out = {f"meta_cv_{k}_mean": v for k, v in self.cv_mean().items()}
        for row in self.cv_folds.itertuples():
            for s in META_SCORES:
                out[f"meta_cv_{s}_fold_{row.fold}"] = float(getattr(row, s))
        out.update({f"meta_oof_{k}": v for k, v in self.oof_metrics().items()})
        out.update({f"meta_test_{k}": v for k, v in self.test_metrics().items()})
        out.update({
            "meta_threshold": float(self.threshold),
            "meta_n_train_events": float((self.oof["meta_fold"] >= 0).sum()),
            "meta_n_test_trades": float((self.test["side"] != 0).sum()),
            "meta_importance_p_primary": float(self.importances().get(P_PRIMARY, 0.0)),
        })
        return out

    def summary(self) -> dict[str, Any]:
        return {"model_class": self.model_class, "threshold": self.threshold,
                "min_edge": self.settings.min_edge, "cv": self.cv_mean(),
                "cv_folds": self.cv_folds.to_dict(orient="records"),
                "oof": self.oof_metrics(), "test": self.test_metrics()}


def fit_meta_model(config: TrainConfig, bars: pd.DataFrame, train_set: TrainingSet,
                   test_set: TrainingSet, oof: pd.DataFrame, test: pd.DataFrame) -> MetaResult:
    """Train the meta-label model of a finished primary training (see the module docstring).

    ``oof`` / ``test``: the primary's OOF and test predictions (``symbol``, ``t0``, ``p_cal``;
    any subset of ``train_set`` / ``test_set``'s events, e.g. without per-symbol skips)."""
    settings = config.meta
    train_rows, test_rows = _rows_in(train_set, oof), _rows_in(test_set, test)
    p_oof = oof["p_cal"].to_numpy(dtype=np.float64)
    p_test = test["p_cal"].to_numpy(dtype=np.float64)
    paths = label_path(bars, config.labels)
    labelled = _side_outcomes(paths, train_set.frame.iloc[train_rows],
                              primary_side(p_oof, settings.min_edge), config.labels)
    labelled_test = _side_outcomes(paths, test_set.frame.iloc[test_rows],
                                   primary_side(p_test, settings.min_edge), config.labels)
    features = train_set.frame[train_set.feature_names].iloc[train_rows].reset_index(drop=True)
    X = _with_primary(features, p_oof)
    w = train_set.weight[train_rows]

    usable = np.flatnonzero(labelled["meta_y"].notna().to_numpy())
    t0 = pd.DatetimeIndex(oof["t0"])
    order = usable[np.argsort(t0[usable].asi8, kind="stable")]  # purged CV needs time order
    if order.shape[0] < 2 * config.cv.n_splits:
        raise InvalidInputError("meta", f"only {order.shape[0]} training events have a primary "
                                        f"side and an outcome: too few for "
                                        f"{config.cv.n_splits}-fold meta CV")
    y = labelled["meta_y"].to_numpy()[order].astype(np.int64)
    t1 = pd.Series(labelled["t1"].array[order], index=t0[order], name="t1")
    p_meta = np.full(len(oof), np.nan)
    fold = np.full(len(oof), -1, dtype=np.int64)
    rows = []
    splitter = PurgedKFold(config.cv.n_splits, config.cv.embargo_pct)
    for k, (tr, te) in enumerate(splitter.split(X.iloc[order], t1)):
        if len(tr) == 0:
            raise InvalidInputError("meta", f"meta fold {k}: nothing left to train on after "
                                            "purging")
        clf = _new_classifier(config).fit(X.iloc[order[tr]], y[tr], w[order[tr]])
        p_meta[order[te]] = clf.predict_proba(X.iloc[order[te]])
        fold[order[te]] = k
        rows.append({"fold": k, "n_train": len(tr), "n_test": len(te),
                     **{s: v for s, v in meta_scores(y[te], p_meta[order[te]],
                                                      settings.threshold).items()
                        if s in META_SCORES}})
    final = _new_classifier(config).fit(X.iloc[order], y, w[order])
    result = MetaResult(
        settings=settings, model_class=settings.model or config.model, model=final,
        feature_names=list(X.columns), cv_folds=pd.DataFrame(rows),
        oof=pd.DataFrame({"side": labelled["side"].to_numpy(),
                          "meta_y": labelled["meta_y"].to_numpy(), "p_meta": p_meta,
                          "meta_fold": fold}, index=oof.index),
        test=pd.DataFrame({"side": labelled_test["side"].to_numpy(),
                           "meta_y": labelled_test["meta_y"].to_numpy()}, index=test.index))
    test_features = test_set.frame[test_set.feature_names].iloc[test_rows]
    result.test["p_meta"] = result.predict(test_features, p_test)
    logger.info("meta-label model (%s): %d training events, cv auc %.4f, precision %.4f "
                "(primary %.4f)", result.model_class, order.shape[0], result.cv_mean()["auc"],
                result.cv_mean()["precision"], result.oof_metrics()["primary_precision"])
    return result


def _new_classifier(config: TrainConfig) -> ProbabilisticClassifier:
    meta = config.meta
    return make_classifier(meta.model or config.model, meta.params, config.seed, config.threads)


def _with_primary(features: pd.DataFrame, p_cal: np.ndarray) -> pd.DataFrame:
    """The meta model's input: the primary features then ``p_primary``."""
    if P_PRIMARY in features.columns:
        raise InvalidInputError("features", f"{P_PRIMARY!r} is the meta model's own feature")
    return features.astype(np.float64).assign(
        **{P_PRIMARY: np.asarray(p_cal, dtype=np.float64)})


def _scores_of(frame: pd.DataFrame, threshold: float) -> dict[str, float]:
    known = frame["meta_y"].notna() & frame["p_meta"].notna()
    return meta_scores(frame.loc[known, "meta_y"].to_numpy(), frame.loc[known, "p_meta"].to_numpy(),
                       threshold)


def _key(symbols: pd.Series, ts: pd.Series) -> pd.MultiIndex:
    ns = pd.DatetimeIndex(pd.to_datetime(ts, utc=True)).tz_convert(None).as_unit("ns").asi8
    return pd.MultiIndex.from_arrays([symbols.astype(str).to_numpy(), ns])


def _rows_in(ts: TrainingSet, predictions: pd.DataFrame) -> np.ndarray:
    """Row of ``ts`` of each prediction (by symbol and t0)."""
    rows = _key(ts.frame["symbol"], ts.frame["t0"]).get_indexer(
        _key(predictions["symbol"], predictions["t0"]))
    if (rows < 0).any():
        raise InvalidInputError("predictions", "predictions of events not in the training set")
    return rows
