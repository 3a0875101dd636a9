"""The wire contract: generated code matches proto/, messages round-trip, services have exactly
the RPCs the design names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from alphaloop.v1 import (
    execution_service_pb2,
    executions_pb2,
    features_service_pb2,
    grading_service_pb2,
    ingest_service_pb2,
    market_data_pb2,
    models_service_pb2,
    orders_pb2,
    risk_service_pb2,
)

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "scripts" / "gen_protos.py"


def _run_gen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GEN), *args],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- drift ----------------------------------------------------------------------------------


def test_generated_code_matches_protos() -> None:
    result = _run_gen("--check")
    assert result.returncode == 0, (
        "generated code is stale; run `make protos`\n" + result.stdout + result.stderr
    )


def test_check_is_independent_of_proto_location(tmp_path: Path) -> None:
    """An unchanged copy of proto/ elsewhere generates byte-identical code (no paths leak in)."""
    shutil.copytree(REPO / "proto", tmp_path / "proto")
    result = _run_gen("--check", "--proto-dir", str(tmp_path / "proto"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_reports_drift_when_a_proto_changes(tmp_path: Path) -> None:
    proto = tmp_path / "proto"
    shutil.copytree(REPO / "proto", proto)
    bar_proto = proto / "alphaloop" / "v1" / "market_data.proto"
    text = bar_proto.read_text()
    marker = "  string interval = 11;\n"
    assert marker in text
    bar_proto.write_text(
        text.replace(marker, marker + "  // Test-only field.\n  string extra = 12;\n")
    )

    result = _run_gen("--check", "--proto-dir", str(proto))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "alphaloop/v1/market_data_pb2.py" in result.stderr
    assert "alphaloop/v1/market_data_pb2.pyi" in result.stderr
    # Nothing else changed, so nothing else is reported.
    assert "risk_pb2" not in result.stderr


# --- round trips ----------------------------------------------------------------------------


def _ts(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt)
    return ts


def test_bar_round_trip() -> None:
    when = datetime(2024, 3, 15, 0, 0, tzinfo=UTC)
    bar = market_data_pb2.Bar(
        symbol="AAPL",
        timestamp=_ts(when),
        open=171.17,
        high=172.62,
        low=170.285,
        close=172.62,
        volume=121_752_699.0,
        vwap=171.9,
        trade_count=1_034_567,
        source="bundled",
        interval="1d",
    )

    parsed = market_data_pb2.Bar.FromString(bar.SerializeToString())

    assert parsed == bar
    assert parsed.symbol == "AAPL"
    assert parsed.timestamp.ToDatetime(tzinfo=UTC) == when
    assert (parsed.open, parsed.high, parsed.low, parsed.close) == (171.17, 172.62, 170.285, 172.62)
    assert parsed.volume == 121_752_699.0
    assert parsed.vwap == 171.9
    assert parsed.trade_count == 1_034_567
    assert parsed.source == "bundled"
    assert parsed.interval == "1d"

    batch = market_data_pb2.BarBatch(bars=[bar, bar])
    assert market_data_pb2.BarBatch.FromString(batch.SerializeToString()) == batch


def test_execution_event_oneof_round_trip() -> None:
    intent = orders_pb2.OrderIntent(
        client_order_id="sig-1",
        symbol="MSFT",
        side=orders_pb2.SIDE_BUY,
        quantity=10,
        order_type=orders_pb2.ORDER_TYPE_LIMIT,
        limit_price=400.5,
        time_in_force=orders_pb2.TIME_IN_FORCE_DAY,
        bracket=orders_pb2.Bracket(take_profit_price=420.0, stop_loss_price=390.0),
    )
    event = executions_pb2.ExecutionEvent(
        order_update=executions_pb2.OrderUpdate(
            order=orders_pb2.Order(
                order_id="o-1",
                client_order_id="sig-1",
                intent=intent,
                status=orders_pb2.ORDER_STATUS_ACCEPTED,
            ),
            reason="accepted",
        )
    )
    parsed = executions_pb2.ExecutionEvent.FromString(event.SerializeToString())
    assert parsed == event
    assert parsed.WhichOneof("event") == "order_update"
    assert parsed.order_update.order.intent.HasField("limit_price")
    assert not parsed.order_update.order.intent.HasField("stop_price")

    fill = executions_pb2.ExecutionEvent(
        fill=executions_pb2.Fill(fill_id="f-1", order_id="o-1", quantity=10, price=400.4)
    )
    assert (
        executions_pb2.ExecutionEvent.FromString(fill.SerializeToString()).WhichOneof("event")
        == "fill"
    )


# --- services -------------------------------------------------------------------------------

EXPECTED_SERVICES = {
    (ingest_service_pb2, "IngestService"): {"Hydrate", "GetBars", "ListSymbols"},
    (features_service_pb2, "FeatureService"): {"ComputeFeatures", "DescribeFeatures"},
    (models_service_pb2, "ModelService"): {"Train", "Predict", "ListModels"},
    (grading_service_pb2, "GradingService"): {"Grade", "Backtest", "ListGrades", "Promote"},
    (risk_service_pb2, "RiskService"): {"CheckOrder", "GetStatus", "Halt", "Resume"},
    (execution_service_pb2, "ExecutionService"): {
        "SubmitOrder",
        "CancelAll",
        "GetPositions",
        "Reconcile",
    },
}


@pytest.mark.parametrize(
    ("module", "service", "methods"),
    [(m, s, rpcs) for (m, s), rpcs in EXPECTED_SERVICES.items()],
    ids=[s for (_, s) in EXPECTED_SERVICES],
)
def test_service_has_exactly_the_designed_rpcs(module, service: str, methods: set[str]) -> None:
    assert list(module.DESCRIPTOR.services_by_name) == [service]
    descriptor = module.DESCRIPTOR.services_by_name[service]
    assert descriptor.full_name == f"alphaloop.v1.{service}"
    assert set(descriptor.methods_by_name) == methods


def test_only_hydrate_streams() -> None:
    for module, service in EXPECTED_SERVICES:
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            assert not method.client_streaming, method.full_name
            expected = method.full_name == "alphaloop.v1.IngestService.Hydrate"
            assert method.server_streaming is expected, method.full_name

    hydrate = ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].methods_by_name[
        "Hydrate"
    ]
    assert hydrate.output_type.name == "HydrateProgress"
