from __future__ import annotations

import gc
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import pytest

from proxyflow.connectors import (
    ConnectorError,
    FileConnector,
    InvalidConfigError,
    InvalidKeyError,
    LocalConnector,
    RedisConnector,
    UnknownConnectorInstanceError,
)
from proxyflow.store.protocols import Connector, CountingConnector
from proxyflow.testing import ConnectorContract
from proxyflow.testing._connector_sharing import _cross_process_child


class TestLocalConnectorContract(ConnectorContract):
    supports_cross_process = False

    @pytest.fixture
    def connector(self) -> Iterator[LocalConnector]:
        connector = LocalConnector()
        yield connector
        connector.close()

    def fail_writes_after(self, connector: Any, count: int, size: int) -> Any:
        pytest.skip(
            "a dict of this process has no storage that fills up; put_batch copies every "
            "object before storing any (see test_a_batch_that_cannot_be_copied_stores_nothing)"
        )


def test_satisfies_the_protocols_structurally() -> None:
    connector = LocalConnector()
    assert isinstance(connector, Connector)
    assert isinstance(connector, CountingConnector)


def test_entry_points_name_the_connector_classes() -> None:
    found = {ep.name: ep.load() for ep in entry_points(group="proxyflow.connectors")}
    assert found["local"] is LocalConnector
    assert found["file"] is FileConnector
    assert found["redis"] is RedisConnector
    for kind, cls in found.items():
        if cls in (LocalConnector, FileConnector, RedisConnector):
            assert cls.kind == kind


def test_importing_the_connectors_imports_nothing_of_proxyflow_but_its_api() -> None:
    code = (
        "import sys, proxyflow.connectors, proxyflow.connectors.local, "
        "proxyflow.connectors.file, proxyflow.connectors.redis\n"
        "others = sorted(m for m in sys.modules if m.startswith('proxyflow.') "
        "and not m.startswith(('proxyflow.connectors', 'proxyflow.api')))\n"
        "print(others)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_from_config_shares_the_same_dict() -> None:
    first = LocalConnector()
    second = LocalConnector.from_config(first.config())
    key = second.put(b"via second")
    assert first.get(key, evict=True) == b"via second"
    assert not second.exists(key)
    assert first.config() == second.config()


def test_separate_instances_do_not_share() -> None:
    first, second = LocalConnector(), LocalConnector()
    key = first.put(b"only in first")
    assert second.get(key) is None


def test_from_config_after_every_sharer_is_gone_raises() -> None:
    connector = LocalConnector()
    config = connector.config()
    del connector
    gc.collect()
    with pytest.raises(UnknownConnectorInstanceError, match="cannot cross processes"):
        LocalConnector.from_config(config)


def test_data_lives_while_a_rebuilt_connector_lives() -> None:
    connector = LocalConnector()
    key = connector.put(b"kept alive")
    rebuilt = LocalConnector.from_config(connector.config())
    del connector
    gc.collect()
    assert rebuilt.get(key) == b"kept alive"


def test_from_config_of_another_process_id_raises() -> None:
    config = LocalConnector().config()
    config["pid"] = os.getpid() + 1
    with pytest.raises(UnknownConnectorInstanceError, match=str(os.getpid() + 1)):
        LocalConnector.from_config(config)


def test_from_config_in_a_spawned_child_raises_a_clear_error() -> None:
    connector = LocalConnector()
    key = connector.put(b"parent only")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(
        target=_cross_process_child, args=(LocalConnector, connector.config(), key, results)
    )
    child.start()
    try:
        status, message, _ = results.get(timeout=60)
        child.join(60)
    finally:
        if child.is_alive():
            child.terminate()
            child.join(60)
        results.close()
    assert status == "error"
    assert "UnknownConnectorInstanceError" in message
    assert "cannot cross processes" in message


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"instance_id": "x"},
        {"instance_id": "x", "pid": 1, "extra": 1},
        "nope",
        {"instance_id": ["x"], "pid": 1},
        {"instance_id": "x", "pid": "1"},
    ],
)
def test_from_config_rejects_malformed_configs(config: object) -> None:
    with pytest.raises(InvalidConfigError):
        LocalConnector.from_config(config)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["../x", "", "a/b", 42, None])
def test_malformed_keys_are_rejected(key: object) -> None:
    connector = LocalConnector()
    kept = connector.put(b"kept")
    with pytest.raises(InvalidKeyError):
        connector.get(key)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        connector.get_batch([kept, key], evict=True)  # type: ignore[list-item]
    assert connector.get(kept) == b"kept"


def test_stats_track_puts_and_evictions() -> None:
    connector = LocalConnector()
    keys = connector.put_batch([b"abc", b"de"])
    assert connector.stats() == {"objects": 2, "bytes": 5}
    connector.get(keys[0], evict=True)
    assert connector.stats() == {"objects": 1, "bytes": 2}
    connector.get_batch(keys, evict=True)
    assert connector.stats() == {"objects": 0, "bytes": 0}


def test_get_returns_the_stored_bytes_without_copy() -> None:
    connector = LocalConnector()
    key = connector.put(b"same object")
    assert connector.get(key) is connector.get(key)


def test_errors_share_the_base_class() -> None:
    assert issubclass(UnknownConnectorInstanceError, ConnectorError)
    assert issubclass(UnknownConnectorInstanceError, LookupError)


def test_a_batch_that_cannot_be_copied_stores_nothing() -> None:
    class Unbufferable:
        pass

    connector = LocalConnector()
    with pytest.raises(TypeError):
        connector.put_batch([b"fine", b"also fine", Unbufferable()])  # type: ignore[list-item]
    assert connector.stats() == {"objects": 0, "bytes": 0}
