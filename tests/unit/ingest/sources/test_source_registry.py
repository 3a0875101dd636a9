"""The source registry: every source by its name, built from its config fields."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import SettingsError
from alphaloop.ingest.ratelimit import direct
from alphaloop.ingest.sources import SOURCES, BarSource, make_source
from alphaloop.ingest.sources.alpaca import AlpacaConfig

VENDOR_KEYS = {
    "alpaca": {"api_key": "k", "secret_key": "s"},
    "polygon": {"api_key": "k"},
    "alphavantage": {"api_key": "k"},
    "fred": {"api_key": "k"},
    "coinbase": {},
}


def test_every_registered_name_builds_a_source_with_that_name(tmp_path):
    prices = tmp_path / "p.csv"
    prices.write_text("symbol,ts,close\nAAPL,2024-01-02,185.64\n")
    settings = {
        "files": {"path": prices},
        "synthetic": {"n_symbols": 3, "n_bars": 5},
        "bytetheory": {},
        **VENDOR_KEYS,
    }
    assert set(SOURCES) == set(settings)
    for name, config in settings.items():
        source = make_source(name, **config)
        assert isinstance(source, BarSource) and source.name == name
        assert source.license and source.rate_limit.rate > 0 and source.batch_size >= 1


def test_documented_vendor_limits():
    limits = {name: make_source(name, **keys).rate_limit for name, keys in VENDOR_KEYS.items()}
    per_minute = {name: limit.rate * 60 for name, limit in limits.items()}
    assert per_minute == pytest.approx(
        {"alpaca": 200, "polygon": 5, "alphavantage": 5, "fred": 120, "coinbase": 600}
    )


def test_unknown_name_lists_the_choices():
    with pytest.raises(
        ValueError,
        match="unknown source 'yahoo'; choose from alpaca, "
        "alphavantage, bytetheory, coinbase, files, fred",
    ):
        make_source("yahoo")


def test_config_object_and_runtime_collaborators_pass_through():
    config = AlpacaConfig(api_key="k", secret_key="s", requests_per_minute=10_000)
    source = make_source("alpaca", config=config, throttle=direct, clock=SimulatedClock())
    assert source.config is config and source.rate_limit.rate == pytest.approx(10_000 / 60)
    with pytest.raises(TypeError, match="either config= or config fields"):
        make_source("alpaca", config=config, feed="sip")


def test_vendor_settings_fall_back_to_the_environment(monkeypatch):
    monkeypatch.delenv("ALPHALOOP_INGEST_POLYGON_API_KEY", raising=False)
    with pytest.raises(SettingsError, match="ALPHALOOP_INGEST_POLYGON_API_KEY"):
        make_source("polygon")
    monkeypatch.setenv("ALPHALOOP_INGEST_POLYGON_API_KEY", "from-env")
    assert make_source("polygon").config.api_key.get_secret_value() == "from-env"


def test_a_misspelt_setting_fails_loudly():
    with pytest.raises(ValueError, match="api_kee"):
        make_source("fred", api_kee="k")


def test_importing_the_package_does_not_import_vendor_clients():
    code = (
        "import sys, alphaloop.ingest.sources, alphaloop.ingest.ratelimit; "
        "print(any(m == 'alpaca' or m.startswith(('alpaca.', 'polygon')) "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
