"""``train(config, bars)``: the training job. Bars -> point-in-time training set -> time split
(last dates held out, purged) -> purged k-fold CV on the training period giving out-of-fold (OOF)
probabilities and per-fold AUC / accuracy / log loss -> a final model on the whole training
period -> calibration fitted on the OOF probabilities only -> calibrated predictions on the
held-out test period -> (``meta.enabled``) a meta-label model on the OOF sides (``meta``) ->
(optionally) everything logged to MLflow and the model registered.

CV metrics score the raw (uncalibrated) fold models. Test metrics are given for the raw final
model (``test_*_raw``) and for the calibrated model that is served (``test_*``). Per-symbol
mode trains one model per symbol, checkpointing each finished symbol (see ``checkpoint``), and
fits one calibrator on the pooled OOF probabilities of every symbol (a few hundred events per
symbol are too few to calibrate each alone). Pooled mode checkpoints each finished CV fold and
the final fit the same way, so a killed run resumes at the fold it was fitting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from alphaloop.models.calibration import CalibrationReport, calibrate, make_calibrator
from alphaloop.models.cv import PurgedKFold
from alphaloop.models.dataset import SplitInfo, TrainingSet, build_training_set
from alphaloop.models.fingerprint import DataFingerprint, fingerprint
from alphaloop.models.training.checkpoint import (
    StepCheckpoints,
    SymbolCheckpoints,
    frame_digest,
)
from alphaloop.models.training.classifiers import make_classifier
from alphaloop.models.training.config import TrainConfig
from alphaloop.models.training.meta import MetaResult, fit_meta_model
from alphaloop.models.training.model import CalibratedModel

logger = logging.getLogger("alphaloop.models.training")

#: Where training checkpoints go when no run folder is given (the embedded state folder).
DEFAULT_RUN_DIR = Path(".alphaloop") / "training"
SCORES = ("auc", "accuracy", "log_loss")
_META = ["symbol", "t0", "t1", "y", "label", "ret", "weight"]


class TrainingTracker(Protocol):
    """What ``train`` needs from experiment tracking (``alphaloop.models.registry.Tracking``):
    log the result and set its ``run_id`` / ``model_version``."""

    def log_training(self, result: TrainResult) -> Any: ...


@dataclass
class TrainResult:
    """Everything a training run produced. ``oof`` and ``test`` hold one row per event with
    ``p_raw`` and ``p_cal`` (OOF ``p_cal`` is cross-fitted, see ``calibration``); with
    ``meta.enabled`` also ``side``, ``meta_y`` and ``p_meta`` (see ``meta``)."""

    config: TrainConfig
    model: CalibratedModel
    fingerprint: DataFingerprint
    split: SplitInfo
    cv_folds: pd.DataFrame
    oof: pd.DataFrame
    test: pd.DataFrame
    calibration: CalibrationReport
    importances: pd.DataFrame
    timings: dict[str, float]
    per_symbol: pd.DataFrame | None = None
    skipped_symbols: list[str] = field(default_factory=list)
    input_example: pd.DataFrame | None = None  # a few test rows as the model reads them
    run_id: str | None = None
    model_version: str | None = None
    meta: MetaResult | None = None  # the meta-label model, when config.meta.enabled

    @property
    def feature_names(self) -> list[str]:
        return list(self.model.feature_names)

    def cv_mean(self) -> dict[str, float]:
        return {s: float(self.cv_folds[s].mean()) for s in SCORES}

    def test_metrics(self) -> dict[str, float]:
        y = self.test["y"].to_numpy()
        return {**{f"{k}_raw": v for k, v in scores(y, self.test["p_raw"].to_numpy()).items()},
                **scores(y, self.test["p_cal"].to_numpy())}

    def oof_metrics(self) -> dict[str, float]:
        """Scores of all OOF predictions pooled (the folds' base rates differ, so pooled AUC
        can be below the mean fold AUC); ``*_cal`` uses the cross-fitted calibrated values."""
        y = self.oof["y"].to_numpy()
        return {**scores(y, self.oof["p_raw"].to_numpy()),
                **{f"{k}_cal": v for k, v in scores(y, self.oof["p_cal"].to_numpy()).items()}}

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics for tracking: cv_*_mean, cv_*_fold_k, test_*, calibration's
        Brier/ECE before and after, sizes and timings; meta_* with a meta-label model."""
        out: dict[str, float] = {f"cv_{k}_mean": v for k, v in self.cv_mean().items()}
        for row in self.cv_folds.itertuples():
            for s in SCORES:
                out[f"cv_{s}_fold_{row.fold}"] = float(getattr(row, s))
        out.update({f"test_{k}": v for k, v in self.test_metrics().items()})
        out.update({f"oof_{k}": v for k, v in self.oof_metrics().items()})
        out.update(self.calibration.metrics())
        out.update({"n_train": float(self.split.n_train), "n_test": float(self.split.n_test),
                    "n_purged": float(self.split.n_purged), "n_oof": float(len(self.oof)),
                    "n_features": float(len(self.feature_names)),
                    "n_symbols_trained": float(self.oof["symbol"].nunique())})
        out.update({f"seconds_{k}": v for k, v in self.timings.items()})
        if self.meta is not None:
            out.update(self.meta.metrics())
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly digest (for reports)."""
        meta = {} if self.meta is None else {"meta": self.meta.summary()}
        return {
            "model_class": self.config.model, "mode": self.config.mode,
            "registered_model": self.config.registry_name, "model_version": self.model_version,
            "run_id": self.run_id, "data": self.fingerprint.as_dict(),
            "split": self.split.as_dict(), "cv": self.cv_mean(),
            "cv_folds": self.cv_folds.to_dict(orient="records"), "oof": self.oof_metrics(),
            "test": self.test_metrics(),
            "calibration": {k: v for k, v in self.calibration.as_dict().items() if k != "curve"},
            "n_features": len(self.feature_names), "skipped_symbols": self.skipped_symbols,
            "timings": self.timings, **meta,
        }


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC (NaN with one class), accuracy of ``p > 0.5`` and log loss (sklearn's, which clips
    probabilities to float64 epsilon) of ``p`` against 0/1 outcomes ``y``."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) == 0:
        return {"auc": float("nan"), "accuracy": float("nan"), "log_loss": float("nan")}
    auc = float(roc_auc_score(y, p)) if np.unique(y).shape[0] == 2 else float("nan")
    return {"auc": auc, "accuracy": float(np.mean((p > 0.5) == (y == 1))),
            "log_loss": float(log_loss(y, np.clip(p, 0.0, 1.0), labels=[0, 1]))}


def train(config: TrainConfig, bars: pd.DataFrame, tracking: TrainingTracker | None = None, *,
          sectors: pd.DataFrame | dict[str, str] | None = None,
          run_dir: str | Path | None = None,
          on_symbol_done: Callable[[str, int, int], None] | None = None,
          on_step_done: Callable[[str, int, int], None] | None = None) -> TrainResult:
    """Train, validate, calibrate and (with ``tracking``) log and register one model.

    ``bars``: clean bars (symbol, ts/timestamp, OHLCV). ``sectors``: symbol -> sector (frame or
    mapping) for the ``sector_code`` feature. ``run_dir``: folder of the checkpoints (default
    ``.alphaloop/training``, see ``checkpoint``): one per finished symbol in per-symbol mode,
    one per CV fold and one for the final fit in pooled mode; a re-run with the same config and
    bars loads them instead of refitting, with an identical result. ``on_step_done(step, done,
    total)`` is called after each newly fitted step's checkpoint is written (the symbol, or
    ``fold-<k>`` / ``final``); ``on_symbol_done`` is its older, per-symbol-only name.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data_fp = fingerprint(bars)
    data = build_training_set(bars, config.features, config.labels, config.dataset, sectors,
                              threads=config.threads)
    train_set, test_set, split = data.split(config.test_fraction)
    timings["dataset"] = time.perf_counter() - start
    logger.info("training set: %d train / %d test events, %d features, %d purged",
                split.n_train, split.n_test, len(data.feature_names), split.n_purged)

    mark = time.perf_counter()
    if config.mode == "pooled":
        checkpoints = StepCheckpoints(run_dir or DEFAULT_RUN_DIR, config.digest(),
                                      data_fp.sha256, frame_digest(train_set.frame))
        fitted = _train_pooled(config, train_set, test_set, checkpoints, on_step_done)
    else:
        checkpoints = SymbolCheckpoints(run_dir or DEFAULT_RUN_DIR, config.digest(),
                                        data_fp.sha256, frame_digest(train_set.frame))
        fitted = _train_per_symbol(config, train_set, test_set, checkpoints,
                                   on_step_done or on_symbol_done)
    timings["fit"] = time.perf_counter() - mark

    mark = time.perf_counter()
    oof, test = fitted.oof, fitted.test
    calibrator, report, p_oof_cal = calibrate(
        oof["p_raw"].to_numpy(), oof["y"].to_numpy(), oof["fold"].to_numpy(),
        config.calibration.method, config.calibration.n_bins,
        test["p_raw"].to_numpy(), test["y"].to_numpy())
    oof["p_cal"] = p_oof_cal
    test["p_cal"] = calibrator.transform(test["p_raw"].to_numpy()) if len(test) else []
    fitted.model.calibrator = calibrator
    timings["calibration"] = time.perf_counter() - mark
    meta = None
    if config.meta.enabled:
        mark = time.perf_counter()
        meta = fit_meta_model(config, bars, train_set, test_set, oof, test)
        oof, test = oof.join(meta.oof), test.join(meta.test)
        timings["meta"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start

    result = TrainResult(
        config=config, model=fitted.model, fingerprint=data_fp, split=split,
        cv_folds=fitted.cv_folds, oof=oof, test=test, calibration=report,
        importances=fitted.importances, timings=timings, per_symbol=fitted.per_symbol,
        skipped_symbols=fitted.skipped, input_example=_example(fitted.model, test_set, train_set),
        meta=meta)
    logger.info("trained %s (%s): cv auc %.4f, test auc %.4f, calibration %s",
                config.model, config.mode, result.cv_mean()["auc"],
                result.test_metrics()["auc"], report.method)
    if tracking is not None:
        tracking.log_training(result)
    return result


# -- pooled -----------------------------------------------------------------------------------

@dataclass
class _Fitted:
    model: CalibratedModel
    oof: pd.DataFrame
    test: pd.DataFrame
    cv_folds: pd.DataFrame
    importances: pd.DataFrame
    per_symbol: pd.DataFrame | None = None
    skipped: list[str] = field(default_factory=list)


def _new_classifier(config: TrainConfig):
    return make_classifier(config.model, config.params, config.seed, config.threads)


def _cross_validate(config: TrainConfig, ts: TrainingSet,
                    checkpoints: StepCheckpoints | None = None,
                    on_fold_done: Callable[[str, int], None] | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """OOF p(up) and fold number of every row of ``ts``, and each fold's scores. With
    ``checkpoints``, a fold saved earlier over the same rows is loaded instead of refitted, and
    each newly fitted fold is saved (step ``fold-<k>``) and then reported to
    ``on_fold_done(step, k)``."""
    X, y, w = ts.X, ts.y, ts.weight
    p = np.full(len(ts), np.nan)
    folds = np.full(len(ts), -1, dtype=np.int64)
    rows = []
    splitter = PurgedKFold(config.cv.n_splits, config.cv.embargo_pct)
    for k, (tr, te) in enumerate(splitter.split(X, ts.t1)):
        if len(tr) == 0:
            raise ValueError(f"fold {k}: nothing left to train on after purging")
        step = f"fold-{k}"
        saved = _saved_fold(checkpoints, step, len(ts), tr, te)
        if saved is not None:
            p[te], row = saved["p"], saved["scores"]
        else:
            clf = _new_classifier(config).fit(X.iloc[tr], y[tr], w[tr])
            p[te] = clf.predict_proba(X.iloc[te])
            row = {"fold": k, "n_train": len(tr), "n_test": len(te), **scores(y[te], p[te])}
            if checkpoints is not None:
                checkpoints.save(step, {"n_rows": len(ts), "n_train": len(tr), "rows": te,
                                        "p": p[te], "scores": row})
                if on_fold_done is not None:
                    on_fold_done(step, k)
        folds[te] = k
        rows.append(row)
    return p, folds, rows


def _saved_fold(checkpoints: StepCheckpoints | None, step: str, n_rows: int,
                tr: np.ndarray, te: np.ndarray) -> dict[str, Any] | None:
    """The checkpoint of a fold if it was fitted on these very train / test rows."""
    saved = checkpoints.load(step) if checkpoints is not None else None
    if saved is None:
        return None
    try:
        same = saved["n_rows"] == n_rows and saved["n_train"] == len(tr) \
            and np.array_equal(saved["rows"], te) and isinstance(saved["scores"], dict) \
            and saved["p"].dtype == np.float64 and saved["p"].shape == te.shape
    except (KeyError, TypeError, AttributeError, ValueError):
        return None
    return saved if same else None


def _train_pooled(config: TrainConfig, train_set: TrainingSet, test_set: TrainingSet,
                  checkpoints: StepCheckpoints | None = None,
                  on_step_done: Callable[[str, int, int], None] | None = None) -> _Fitted:
    """Purged k-fold CV, then the final fit on the whole training period. With ``checkpoints``
    every fold and the final classifier are saved as they finish and loaded again by a re-run
    on the same inputs, so an interrupted run resumes with an identical result;
    ``on_step_done(step, done, total)`` follows each newly fitted step (``fold-0``, ...,
    ``final``; ``total`` = folds + 1)."""
    n_steps = config.cv.n_splits + 1
    fitted_now: list[str] = []

    def fold_done(step: str, k: int) -> None:
        fitted_now.append(step)
        if on_step_done is not None:
            on_step_done(step, k + 1, n_steps)

    p, folds, rows = _cross_validate(config, train_set, checkpoints, fold_done)
    saved = checkpoints.load("final") if checkpoints is not None else None
    final = saved.get("classifier") if saved is not None \
        and saved.get("n_rows") == len(train_set) else None
    if not hasattr(final, "predict_proba"):
        final = _new_classifier(config).fit(train_set.X, train_set.y, train_set.weight)
        if checkpoints is not None:
            checkpoints.save("final", {"n_rows": len(train_set), "classifier": final})
            fitted_now.append("final")
            if on_step_done is not None:
                on_step_done("final", n_steps, n_steps)
    if checkpoints is not None:
        logger.info("pooled training: %d of %d steps from checkpoints in %s",
                    n_steps - len(fitted_now), n_steps, checkpoints.folder)
    model = CalibratedModel(train_set.feature_names, "pooled", config.model, classifier=final)
    oof = train_set.frame[_META].assign(fold=folds, p_raw=p)
    test = test_set.frame[_META].assign(p_raw=final.predict_proba(test_set.X))
    return _Fitted(model, oof, test, pd.DataFrame(rows), _importance_table(
        final.feature_importances()))


# -- per symbol -------------------------------------------------------------------------------

def _train_per_symbol(config: TrainConfig, train_set: TrainingSet, test_set: TrainingSet,
                      checkpoints: SymbolCheckpoints,
                      on_symbol_done: Callable[[str, int, int], None] | None) -> _Fitted:
    train_symbols = train_set.frame["symbol"].to_numpy()
    test_symbols = test_set.frame["symbol"].to_numpy()
    p_oof = np.full(len(train_set), np.nan)
    folds = np.full(len(train_set), -1, dtype=np.int64)
    p_test = np.full(len(test_set), np.nan)
    models, importances, table, skipped = {}, [], [], []
    symbols = train_set.symbols
    resumed = 0
    for i, symbol in enumerate(symbols):
        rows = np.flatnonzero(train_symbols == symbol)
        test_rows = np.flatnonzero(test_symbols == symbol)
        outcome = checkpoints.load(symbol)
        if outcome is not None and outcome["n_train"] == rows.shape[0] \
                and outcome["n_test"] == test_rows.shape[0]:
            resumed += 1
        else:
            outcome = _train_symbol(config, train_set.subset(train_symbols == symbol),
                                    test_set.subset(test_symbols == symbol))
            checkpoints.save(symbol, outcome)
            if on_symbol_done is not None:
                on_symbol_done(symbol, i + 1, len(symbols))
        if outcome["classifier"] is None:
            skipped.append(symbol)
            continue
        p_oof[rows], folds[rows] = outcome["p_oof"], outcome["folds"]
        p_test[test_rows] = outcome["p_test"]
        models[symbol] = outcome["classifier"]
        importances.append(outcome["classifier"].feature_importances())
        table.append({"symbol": symbol, "n_train": rows.shape[0], "n_test": test_rows.shape[0],
                      **{f"cv_{k}": v for k, v in outcome["cv"].items()}})
    if not models:
        raise ValueError("no symbol had enough training events for a per-symbol model "
                         f"(min_symbol_events={config.min_symbol_events})")
    logger.info("per-symbol models: %d trained, %d from checkpoints, %d skipped",
                len(models) - resumed, resumed, len(skipped))
    oof = train_set.frame[_META].assign(fold=folds, p_raw=p_oof)
    oof = oof[folds >= 0].reset_index(drop=True)
    test = test_set.frame[_META].assign(p_raw=p_test)
    test = test[np.isfinite(p_test)].reset_index(drop=True)
    cv_folds = pd.DataFrame([
        {"fold": int(k), "n_train": int((oof["fold"] != k).sum()), "n_test": len(g),
         **scores(g["y"].to_numpy(), g["p_raw"].to_numpy())}
        for k, g in oof.groupby("fold", sort=True)])
    model = CalibratedModel(train_set.feature_names, "per_symbol", config.model,
                            per_symbol=models, calibrator=make_calibrator("none"))
    mean_importance = pd.concat(importances, axis=1).mean(axis=1)
    return _Fitted(model, oof, test, cv_folds, _importance_table(mean_importance),
                   pd.DataFrame(table), skipped)


def _train_symbol(config: TrainConfig, train: TrainingSet, test: TrainingSet) -> dict[str, Any]:
    outcome: dict[str, Any] = {"n_train": len(train), "n_test": len(test), "classifier": None}
    if len(train) < max(config.min_symbol_events, 2 * config.cv.n_splits) \
            or np.unique(train.y).shape[0] < 2:
        return outcome
    try:
        p, folds, rows = _cross_validate(config, train)
    except ValueError as exc:  # a fold purged empty: too few events for this CV
        logger.warning("skipping a symbol: %s", exc)
        return outcome
    final = _new_classifier(config).fit(train.X, train.y, train.weight)
    fold_scores = pd.DataFrame(rows)
    outcome.update(classifier=final, p_oof=p, folds=folds,
                   p_test=final.predict_proba(test.X) if len(test) else np.empty(0),
                   cv={s: float(fold_scores[s].mean()) for s in SCORES})
    return outcome


def _example(model: CalibratedModel, test_set: TrainingSet, train_set: TrainingSet,
             n: int = 5) -> pd.DataFrame:
    source = test_set if len(test_set) else train_set
    frame = source.frame
    if model.mode == "per_symbol":
        frame = frame[frame["symbol"].isin(model.per_symbol)]
        return frame[["symbol", *model.feature_names]].head(n).reset_index(drop=True)
    return frame[model.feature_names].head(n).reset_index(drop=True)


def _importance_table(importance: pd.Series) -> pd.DataFrame:
    table = importance.rename("importance").rename_axis("feature").reset_index()
    return table.sort_values(["importance", "feature"], ascending=[False, True],
                             ignore_index=True)
