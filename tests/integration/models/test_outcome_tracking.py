"""The outcome loop through the real models service on an in-process memory bus: feature
vectors in, the champion's signals out, Bar messages on the bars topic resolve them after the
model's horizon (labels.vertical_bars = 5), and the served model's assessment moves. The bar
paths are built so every call of version 1 is wrong at the horizon bar although the bars before
it go the call's way (a redelivered bar counted twice would resolve a call one bar early, as
right); version 2's calls are all right. Outcomes of version 1 still waiting when version 2 is
promoted are not counted."""

import time
import urllib.request
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alphaloop.common.bus import open_bus
from alphaloop.common.metrics import REGISTRY
from alphaloop.common.topics import Topic
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.dataset import build_training_set
from alphaloop.models.main import build, load
from alphaloop.models.registry import CHAMPION, Tracking
from alphaloop.models.staleness import Level
from alphaloop.models.training import TrainConfig, train
from alphaloop.v1 import features_pb2, market_data_pb2, signals_pb2

FEATURES = ["ret_5", "ret_21", "rsi_14", "rvol_21", "dist_sma_20"]
NAME = "outcome-test"
SERVICE = "alphaloop.v1.ModelService"
HORIZON = 5
DAY_NS = 86_400 * 10**9
BASE_NS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 10**9


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One trained model registered twice (versions 1 and 2, the same model) in a temporary
    sqlite store, and held-out rows whose features the vectors carry."""
    store = tmp_path_factory.mktemp("state")
    source = BytetheorySource()
    bars = apply_gate(source.load()).good
    bars = bars[bars["symbol"].isin(sorted(bars["symbol"].unique())[:6])].reset_index(drop=True)
    config = TrainConfig.model_validate({
        "name": NAME, "threads": 1, "features": FEATURES, "registered_model": NAME,
        "params": {"lightgbm": {"n_estimators": 10, "num_leaves": 7, "min_child_samples": 20}},
        "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": HORIZON},
        "cv": {"n_splits": 2}, "test_fraction": 0.25,
    })
    tracking = Tracking(state_dir=store)
    result = train(config, bars, tracking, sectors=source.sectors())
    assert result.model_version == "1"
    assert tracking.log_training(result).model_version == "2"
    cfg = result.config
    data = build_training_set(bars, cfg.features, cfg.labels, cfg.dataset, source.sectors())
    _, test_set, _ = data.split(cfg.test_fraction)
    rows = test_set.frame.tail(24).reset_index(drop=True)
    p_up = np.asarray(tracking.load_version(NAME, 1).predict(rows[result.feature_names]),
                      dtype=np.float64)
    assert not np.any(p_up == 0.5)
    return {"store": store, "tracking": tracking, "rows": rows, "p_up": p_up,
            "features": result.feature_names}


def _vector(row, features, slot: int) -> features_pb2.FeatureVector:
    """The row's features at a made-up bar time: slot i is day 10 * i after 2024-01-01, so the
    six bars of one signal (its bar and five later) never overlap the next slot's."""
    v = features_pb2.FeatureVector(symbol=row.symbol, feature_set_version="test")
    v.timestamp.FromNanoseconds(BASE_NS + 10 * slot * DAY_NS)
    for f in features:
        v.values[f] = float(getattr(row, f))
    return v


def _bars(symbol: str, slot: int, call_up: bool, right: bool) -> list[market_data_pb2.Bar]:
    """Entry close 100; four bars that go the call's way (110 for an up call, 90 for a down
    call); the horizon bar (fifth) goes the call's way when ``right``, else the other way."""
    toward, away = (110.0, 90.0) if call_up else (90.0, 110.0)
    closes = [100.0, toward, toward, toward, toward, toward if right else away]
    out = []
    for k, close in enumerate(closes):
        bar = market_data_pb2.Bar(symbol=symbol, close=close, open=close, high=close,
                                  low=close, volume=1000.0, source="test", interval="1d")
        bar.timestamp.FromNanoseconds(BASE_NS + (10 * slot + k) * DAY_NS)
        out.append(bar)
    return out


def _publish_bars(bus, bars, *, redeliver: bool, batch: bool) -> None:
    topic = str(Topic.BARS)
    if batch:  # the whole path as one BarBatch message
        bus.publish(topic, bars[0].symbol, market_data_pb2.BarBatch(bars=bars))
    else:
        for bar in bars:
            bus.publish(topic, bar.symbol, bar)
    if redeliver:  # at-least-once: bars 2 and 3 after the signal bar come again
        for bar in bars[2:4]:
            bus.publish(topic, bar.symbol, bar)


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _wait(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _health(server, service):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        return health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5).status


def _signals(sub, n: int) -> list[signals_pb2.Signal]:
    got: list[signals_pb2.Signal] = []
    deadline = time.monotonic() + 30
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} signals"
        for m in sub.poll(timeout=0.2):
            got.append(signals_pb2.Signal.FromString(m.value))
            sub.ack(m)
    return got


def test_realised_bars_move_the_served_model_and_only_count_for_its_version(trained):
    tracking, rows, p_up, features = (trained["tracking"], trained["rows"], trained["p_up"],
                                      trained["features"])
    tracking.set_alias(NAME, 1, CHAMPION)
    bus = open_bus("memory")
    settings = load(state_dir=trained["store"], model_name=NAME, poll_seconds=3600,
                    accuracy_window=10, accuracy_min_outcomes=10,
                    max_feature_age_seconds=100 * 365 * 86400.0)  # 2024 bar times are fine
    assert settings.stream_enabled and settings.outcomes_enabled  # the defaults
    server = build(settings, bus=bus)
    signals_out = bus.subscribe(str(Topic.SIGNALS), group="outcome-test-risk")
    server.start(grpc_port=0, metrics_port=0)
    msrv = server.model_server
    wrong0 = _value("alphaloop_model_outcomes_total", model=NAME, call="wrong")
    right0 = _value("alphaloop_model_outcomes_total", model=NAME, call="right")
    dup0 = _value("alphaloop_model_outcome_drops_total", model=NAME, reason="duplicate_bar")
    gone0 = sum(_value("alphaloop_model_outcome_drops_total", model=NAME, reason=r)
                for r in ("superseded", "not_served"))
    try:
        msrv.refresh()
        before = msrv.assess()
        assert (before.level, before.rolling_accuracy) == (Level.FRESH, None)
        reference = before.reference_accuracy
        assert reference is not None and reference > 0.2  # all wrong is a > 20-point drop
        assert _health(server, SERVICE) == health_pb2.HealthCheckResponse.SERVING

        # version 1 scores 14 vectors: 12 resolved below, 2 left waiting for bars
        for slot in range(14):
            v = _vector(rows.iloc[slot], features, slot)
            bus.publish(str(Topic.FEATURES), v.symbol, v)
        signals = _signals(signals_out, 14)
        assert {(s.model_version, s.horizon_bars) for s in signals} == {("1", HORIZON)}
        for slot in range(12):
            bars = _bars(rows.symbol[slot], slot, bool(p_up[slot] > 0.5), right=False)
            _publish_bars(bus, bars, redeliver=True, batch=slot % 2 == 1)
        _wait(lambda: _value("alphaloop_model_outcomes_total", model=NAME, call="wrong")
              - wrong0 >= 12, "12 outcomes of version 1")
        _wait(lambda: len(server.outcomes.book) == 2, "the 2 unresolved signals to be held")

        assert _value("alphaloop_model_outcomes_total", model=NAME, call="wrong") - wrong0 == 12
        assert _value("alphaloop_model_outcomes_total", model=NAME, call="right") == right0
        assert _value("alphaloop_model_outcome_drops_total", model=NAME,
                      reason="duplicate_bar") - dup0 == 24
        after = msrv.assess()
        # 12 wrong calls, the last 10 in the window: accuracy 0, drop = reference > 20 points
        assert after.rolling_accuracy == 0.0
        assert (after.age_level, after.accuracy_level, after.level) == (
            Level.FRESH, Level.CRITICAL, Level.CRITICAL)
        assert _health(server, SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _health(server, "") == health_pb2.HealthCheckResponse.SERVING
        metrics = urllib.request.urlopen(
            f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).read().decode()
        scraped = [line for line in metrics.splitlines()
                   if line.startswith("alphaloop_model_outcomes_total{")
                   and f'model="{NAME}"' in line and 'call="wrong"' in line]
        assert len(scraped) == 1 and float(scraped[0].split()[-1]) - wrong0 == 12

        # a new champion starts clean; version 1's waiting signals resolve but do not count
        tracking.set_alias(NAME, 2, CHAMPION)
        assert msrv.refresh() is True
        assert (msrv.assess().level, msrv.assess().rolling_accuracy) == (Level.FRESH, None)
        for slot in (12, 13):
            _publish_bars(bus, _bars(rows.symbol[slot], slot, bool(p_up[slot] > 0.5),
                                     right=True), redeliver=False, batch=False)
        _wait(lambda: sum(_value("alphaloop_model_outcome_drops_total", model=NAME, reason=r)
                          for r in ("superseded", "not_served")) - gone0 >= 2,
              "version 1's two waiting signals to be dropped")
        assert len(msrv.staleness.outcomes) == 0

        # version 2's calls are right at the horizon: rolling accuracy 10 of 10
        for slot in range(14, 24):
            v = _vector(rows.iloc[slot], features, slot)
            bus.publish(str(Topic.FEATURES), v.symbol, v)
        assert {s.model_version for s in _signals(signals_out, 10)} == {"2"}
        for slot in range(14, 24):
            _publish_bars(bus, _bars(rows.symbol[slot], slot, bool(p_up[slot] > 0.5),
                                     right=True), redeliver=True, batch=False)
        _wait(lambda: _value("alphaloop_model_outcomes_total", model=NAME, call="right")
              - right0 >= 10, "10 outcomes of version 2")
        final = msrv.assess()
        assert (final.rolling_accuracy, final.level) == (1.0, Level.FRESH)
        assert _value("alphaloop_model_outcomes_total", model=NAME, call="wrong") - wrong0 == 12
        assert _health(server, SERVICE) == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop(grace=0)
        bus.close()
