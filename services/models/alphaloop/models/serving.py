"""Serving the promoted model: :class:`ModelServer` loads ``<model>@<alias>`` (``champion``)
from the MLflow registry, polls the alias and swaps in a newly promoted version without a
restart, scores feature vectors, and tracks the served version's staleness
(``alphaloop.models.staleness``) and the freshness of the market data it is fed.

Thread safety: the served model is an immutable :class:`ServedModel` swapped under a lock,
so a prediction uses one consistent (model, version) pair even while a promotion lands.
Registry calls are serialised on one lock because ``Tracking`` points MLflow's process-global
URI at its store for the duration of each call.

Signals: ``Signal.probability`` is the calibrated probability that a trade on ``side`` is
profitable (signals.proto), so p(up) >= 0.5 gives BUY with probability p(up) and p(up) < 0.5
gives SELL with probability 1 - p(up). ``signal_id`` is a hash of (model name, version,
symbol, bar timestamp, strategy): the same feature vector scored by the same version always
gives the same id, so a redelivered vector produces a duplicate that downstream consumers
drop (client order ids derive from signal ids).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import FailedPreconditionError, InvalidInputError, NotFoundError
from alphaloop.models.registry import Tracking
from alphaloop.models.staleness import (
    Assessment,
    DataFreshness,
    Level,
    StalenessTracker,
    Thresholds,
)
from alphaloop.v1 import features_pb2, orders_pb2, signals_pb2

log = logging.getLogger(__name__)

#: Run metric used as the "training accuracy" staleness compares against (held-out test
#: accuracy of the calibrated model), with the CV mean as a fallback.
REFERENCE_ACCURACY_METRICS = ("test_accuracy", "cv_accuracy_mean")
_INT_TYPES = {"integer", "long"}


@dataclass(frozen=True)
class ServedModel:
    """One loaded registry version and what serving needs to know about it."""

    name: str
    version: str
    pyfunc: Any
    columns: tuple[str, ...]  # input columns in order ("symbol" included for per-symbol)
    column_types: dict[str, str]
    registered_at: datetime
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    horizon_bars: int = 0

    @property
    def feature_names(self) -> list[str]:
        return [c for c in self.columns if c != "symbol"]

    @property
    def reference_accuracy(self) -> float | None:
        for key in REFERENCE_ACCURACY_METRICS:
            value = self.metrics.get(key)
            if value is not None and not math.isnan(value):
                return float(value)
        return None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated p(up) per row, exactly what the registered pyfunc model returns."""
        return np.asarray(self.pyfunc.predict(frame), dtype=np.float64).reshape(-1)


def timestamp_ns(ts) -> int:
    """Nanoseconds since the epoch of a protobuf Timestamp."""
    return int(ts.seconds) * 1_000_000_000 + int(ts.nanos)


def timestamp_datetime(ts) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=timestamp_ns(ts) // 1000)


def signal_id(model_id: str, model_version: str, symbol: str, ts_ns: int,
              strategy: str = "") -> str:
    """Deterministic signal id: the same (model, version, symbol, bar time, strategy) always
    hashes to the same 32 hex characters."""
    key = f"{model_id}\x1f{model_version}\x1f{symbol}\x1f{ts_ns}\x1f{strategy}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def make_signal(vector: features_pb2.FeatureVector, p_up: float, model: ServedModel,
                strategy: str) -> signals_pb2.Signal:
    buy = p_up >= 0.5
    sig = signals_pb2.Signal(
        signal_id=signal_id(model.name, model.version, vector.symbol,
                            timestamp_ns(vector.timestamp), strategy),
        symbol=vector.symbol, model_id=model.name, model_version=model.version,
        probability=float(p_up if buy else 1.0 - p_up),
        side=orders_pb2.SIDE_BUY if buy else orders_pb2.SIDE_SELL,
        horizon_bars=model.horizon_bars, strategy=strategy)
    sig.timestamp.CopyFrom(vector.timestamp)
    return sig


def frame_from_vectors(vectors: Sequence[features_pb2.FeatureVector],
                       model: ServedModel) -> pd.DataFrame:
    """The model's input frame (its columns, in order) from feature vectors. A feature the
    model needs that a vector lacks is an ``InvalidInputError`` naming it."""
    if not vectors:
        raise InvalidInputError("features", "give at least one feature vector")
    data: dict[str, list] = {c: [] for c in model.columns}
    for i, vector in enumerate(vectors):
        if not vector.symbol:
            raise InvalidInputError(f"features[{i}].symbol", "is empty")
        values = vector.values
        for column in model.columns:
            if column == "symbol":
                data[column].append(vector.symbol)
                continue
            if column not in values:
                raise InvalidInputError(
                    f"features[{i}].values",
                    f"missing feature {column!r} for {vector.symbol} (model {model.name} "
                    f"v{model.version} needs {', '.join(model.feature_names)})")
            data[column].append(values[column])
    frame = pd.DataFrame(data, columns=list(model.columns))
    for column, kind in model.column_types.items():
        if column in frame and kind in _INT_TYPES:
            col = frame[column]
            if col.isna().any():
                raise InvalidInputError(
                    "features", f"feature {column!r} is an integer feature and may not be NaN")
            frame[column] = col.astype(np.int64 if kind == "long" else np.int32)
    return frame


class ModelServer:
    """Serves ``model_name@alias``. ``refresh()`` (or the background poll every
    ``poll_seconds``, started by ``start()``) picks up a moved alias; ``predict`` scores a
    frame with the current version. ``on_health(ready, reason)`` is called after each poll
    and swap with the readiness verdict (see ``readiness``)."""

    def __init__(self, tracking: Tracking, model_name: str, alias: str = "champion",
                 clock: Clock | None = None, poll_seconds: float = 30.0, *,
                 thresholds: Thresholds | None = None,
                 max_feature_age: timedelta = timedelta(days=3),
                 on_health: Callable[[bool, str], None] | None = None,
                 cache_size: int = 4) -> None:
        self.tracking = tracking
        self.model_name = model_name
        self.alias = alias
        self.clock = clock or LiveClock()
        self.poll_seconds = poll_seconds
        self.on_health = on_health
        self.staleness = StalenessTracker(model_name, self.clock, thresholds or Thresholds())
        self.data = DataFreshness(max_feature_age, self.clock, model_name)
        self._current: ServedModel | None = None
        self._lock = threading.Lock()  # guards _current and the staleness reset
        self._registry_lock = threading.RLock()  # serialises MLflow calls
        self._cache: OrderedDict[tuple[str, str], ServedModel] = OrderedDict()
        self._cache_size = cache_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    # -- loading --------------------------------------------------------------------------
    @property
    def current(self) -> ServedModel | None:
        with self._lock:
            return self._current

    def refresh(self) -> bool:
        """Resolve the alias; load and swap in its version if it moved. True when the served
        version changed. The alias being gone stops serving (demotion); a registry that cannot
        be reached keeps the current version."""
        try:
            with self._registry_lock:
                version = self.tracking.alias_version(self.model_name, self.alias)
        except NotFoundError:
            with self._lock:
                changed, self._current = self._current is not None, None
            self.last_error = f"model {self.model_name!r} has no {self.alias!r} alias"
            if changed:
                log.warning("%s@%s is gone: no longer serving", self.model_name, self.alias)
            self._report_health()
            return changed
        current = self.current
        if current is not None and current.version == version:
            self._report_health()
            return False
        served = self.load(self.model_name, version)
        with self._lock:
            self._current = served
            self.staleness.reset(served.registered_at, served.reference_accuracy)
        self.last_error = None
        log.info("serving %s version %s (%s)", served.name, served.version, self.alias,
                 extra={"fields": {"model": served.name, "version": served.version}})
        self._report_health()
        return True

    def load(self, name: str, version: str) -> ServedModel:
        """A registry version as a :class:`ServedModel` (a few are cached)."""
        key = (name, str(version))
        with self._registry_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            served = self._load(name, str(version))
            self._cache[key] = served
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return served

    def _load(self, name: str, version: str) -> ServedModel:
        pyfunc = self.tracking.load_version(name, version)
        mv = self.tracking.client.get_model_version(name, version)
        metrics: dict[str, float] = {}
        horizon = 0
        if mv.run_id:
            run = self.tracking.client.get_run(mv.run_id)
            metrics = {k: float(v) for k, v in run.data.metrics.items()}
            try:
                horizon = int(float(run.data.params.get("labels.vertical_bars", 0)))
            except ValueError:
                horizon = 0
        columns, types = _input_columns(pyfunc)
        registered = datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000.0, tz=UTC)
        return ServedModel(name=name, version=version, pyfunc=pyfunc, columns=columns,
                           column_types=types, registered_at=registered, run_id=mv.run_id,
                           metrics=metrics, horizon_bars=horizon)

    # -- serving --------------------------------------------------------------------------
    def require(self) -> ServedModel:
        """The served version; tries one refresh when none is loaded yet. Raises
        ``FailedPreconditionError`` when the alias points nowhere."""
        current = self.current
        if current is None:
            self.refresh()
            current = self.current
        if current is None:
            raise FailedPreconditionError(
                f"no model to serve: registered model {self.model_name!r} has no "
                f"{self.alias!r} alias (train one and promote it, e.g. "
                f"`alphaloop promote {self.model_name} <version>`)")
        return current

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, str, str]:
        """Calibrated p(up) of each row with the served version: (probabilities, model id,
        version)."""
        served = self.require()
        return served.predict(frame), served.name, served.version

    def predict_vectors(self, vectors: Sequence[features_pb2.FeatureVector],
                        model: ServedModel | None = None) -> tuple[np.ndarray, ServedModel]:
        served = model or self.require()
        frame = frame_from_vectors(vectors, served)
        return served.predict(frame), served

    # -- staleness and health ---------------------------------------------------------------
    def record_outcome(self, p_up: float, outcome: int | bool,
                       version: str | None = None) -> bool:
        """Feed one realised outcome (1 = up over the horizon) of a served prediction; True
        when it was recorded. With ``version`` (the version that made the prediction) it counts
        only while that version is served: checked under the lock a promotion resets the
        staleness under, so an old champion's outcome never lands in the new one's window."""
        with self._lock:
            if version is not None and (self._current is None
                                        or self._current.version != version):
                return False
            self.staleness.record_outcome(p_up, outcome)
        self._report_health()
        return True

    def observe_features(self, ts: datetime) -> None:
        self.data.observe(ts)

    def assess(self) -> Assessment | None:
        with self._lock:
            return self.staleness.assess() if self._current is not None else None

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason). Not ready when the served model is STALE or CRITICAL or the
        newest market data is too old. No model at all stays ready: the service answers
        (Predict says FAILED_PRECONDITION) and the pod is not taken out for it."""
        reasons = []
        assessment = self.assess()
        if assessment is not None and not assessment.level.ready:
            reasons.append(f"model {self.model_name} is {assessment.describe()}")
        if self.data.stale():
            reasons.append(f"market data stale: newest feature at {self.data.latest} is older "
                           f"than {self.data.max_age}")
        return (not reasons, "; ".join(reasons) or "ok")

    def signals_allowed(self) -> tuple[bool, str]:
        """Whether new signals may be emitted from the champion: not CRITICAL."""
        assessment = self.assess()
        if assessment is not None and assessment.level >= Level.CRITICAL:
            return False, f"model {self.model_name} is {assessment.describe()}"
        return True, "ok"

    def _report_health(self) -> None:
        if self.on_health is None:
            return
        try:
            ready, reason = self.readiness()
            self.on_health(ready, reason)
        except Exception:  # health reporting must never break serving
            log.warning("health update failed", exc_info=True)

    # -- background poll -------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="model-poll", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - registry down or a bad model: keep serving
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("refreshing %s@%s failed: %s", self.model_name, self.alias, exc)
            self._stop.wait(self.poll_seconds)


def _input_columns(pyfunc: Any) -> tuple[tuple[str, ...], dict[str, str]]:
    """Input column names and MLflow types from the model's signature; falls back to the
    wrapped CalibratedModel's feature list."""
    try:
        schema = pyfunc.metadata.get_input_schema()
    except Exception:  # noqa: BLE001 - no usable signature: use the wrapped model's list
        schema = None
    if schema is not None and schema.has_input_names():
        names = tuple(schema.input_names())
        types = {}
        for spec in schema.inputs:
            kind = getattr(spec, "type", None)
            types[spec.name] = getattr(kind, "name", str(kind))
        return names, types
    model = pyfunc.unwrap_python_model().model
    names = (("symbol",) if model.mode == "per_symbol" else ()) + tuple(model.feature_names)
    return names, {}
