"""gRPC surface of the features service (ComputeFeatures, DescribeFeatures): parse the request,
call the feature library, build the reply. Domain errors carry their status: an unknown feature
name answers INVALID_ARGUMENT naming it (the server's interceptor maps the error)."""

from __future__ import annotations

import threading

import grpc
import numpy as np
import pandas as pd

from alphaloop.common.errors import InvalidInputError
from alphaloop.common.store import Store, open_store
from alphaloop.features.config import Settings
from alphaloop.v1 import features_pb2, features_service_pb2, features_service_pb2_grpc

_ONE_TICK = pd.Timedelta(microseconds=1)  # the store keeps microseconds; BarRange.end is exclusive
_PRICES = ("open", "high", "low", "close", "volume")


class FeaturesApi(features_service_pb2_grpc.FeatureServiceServicer):
    """``store`` may be injected (tests, embedding); otherwise it is opened from settings on the
    first ComputeFeatures request that asks for a stored range."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._lock = threading.Lock()

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        features_service_pb2_grpc.add_FeatureServiceServicer_to_server(self, server)
        return [features_service_pb2.DESCRIPTOR.services_by_name["FeatureService"].full_name]

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                store = open_store(self.settings.store_backend, self.settings.effective_store_url)
                store.migrate()
                self._store = store
            return self._store

    # -- RPCs ---------------------------------------------------------------------------------
    def ComputeFeatures(self, request, context) -> features_service_pb2.ComputeFeaturesResponse:
        from alphaloop.features import compute
        from alphaloop.features.incremental import feature_set_version
        from alphaloop.features.library.engine import select

        names = list(dict.fromkeys(request.names)) or None
        select(names)  # unknown names -> INVALID_ARGUMENT before any bar is read
        which = request.WhichOneof("input")
        if which == "bars":
            bars = bars_frame(request.bars.bars)
        elif which == "range":
            bars = self._stored(request.range)
        else:
            raise InvalidInputError("input", "give bars or a range of stored bars")
        if len(bars) > self.settings.max_bars_per_request:
            raise InvalidInputError(
                which, f"{len(bars):,} bars, more than the {self.settings.max_bars_per_request:,} "
                "one request may use (ALPHALOOP_FEATURES_MAX_BARS_PER_REQUEST)")
        bars = bars.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
        values = compute(bars, names)
        version = feature_set_version(list(values.columns))
        reply = features_service_pb2.ComputeFeaturesResponse(feature_set_version=version)
        columns = list(values.columns)
        matrix = values.to_numpy()
        stamps = bars["ts"].astype("int64").tolist() if len(bars) else []
        for i, symbol in enumerate(bars["symbol"].tolist()):
            vector = reply.vectors.add(symbol=symbol, feature_set_version=version)
            vector.timestamp.FromNanoseconds(stamps[i])
            vector.values.update(zip(columns, matrix[i].tolist(), strict=True))
        return reply

    def DescribeFeatures(self, request, context) -> features_service_pb2.DescribeFeaturesResponse:
        from alphaloop.features import describe
        from alphaloop.features.incremental import feature_set_version
        from alphaloop.features.library import FAMILIES
        from alphaloop.features.library.engine import select

        if request.family and request.family not in FAMILIES:
            raise InvalidInputError("family", f"unknown family {request.family!r}; families: "
                                              f"{', '.join(FAMILIES)}")
        wanted = {s.name for s in select(list(request.names))} if request.names else None
        specs = [s for s in describe(request.family or None)
                 if wanted is None or s.name in wanted]
        return features_service_pb2.DescribeFeaturesResponse(
            features=[features_pb2.FeatureSpec(
                name=s.name, family=s.family, inputs=list(s.inputs), warmup_bars=s.warmup,
                description=s.description) for s in sorted(specs, key=lambda s: s.name)],
            feature_set_version=feature_set_version([s.name for s in describe()]),
        )

    def _stored(self, rng) -> pd.DataFrame:
        start = _timestamp(rng, "start")
        end = _timestamp(rng, "end")
        if start is not None and end is not None and end <= start:
            raise InvalidInputError("end", "must be after start")
        symbols = list(dict.fromkeys(s.strip() for s in rng.symbols))
        if any(not s for s in symbols):
            raise InvalidInputError("symbols", "contains an empty symbol")
        return self.store.read_bars(symbols or None, start=start,
                                    end=end - _ONE_TICK if end is not None else None,
                                    interval=(rng.interval or "1d").strip())


def bars_frame(bars) -> pd.DataFrame:
    """Bar messages as a frame (symbol, ts, OHLCV, vwap); a vwap of 0 means unknown (NaN)."""
    frame = pd.DataFrame({
        "symbol": [b.symbol for b in bars],
        "ts": pd.to_datetime([b.timestamp.ToNanoseconds() for b in bars], utc=True),
        **{c: np.array([getattr(b, c) for b in bars], dtype=np.float64) for c in _PRICES},
    })
    vwap = np.array([b.vwap for b in bars], dtype=np.float64)
    frame["vwap"] = np.where(vwap == 0.0, np.nan, vwap)
    if (frame["symbol"] == "").any():
        raise InvalidInputError("bars", "a bar has no symbol")
    return frame


def _timestamp(message, field: str) -> pd.Timestamp | None:
    if not message.HasField(field):
        return None
    stamp = getattr(message, field)
    return pd.Timestamp(stamp.ToNanoseconds(), unit="ns", tz="UTC")
