"""The connector suite's checks of sharing a connector's data and the connector itself.

``SharingChecks`` holds the tests of
[`ConnectorContract`][proxyflow.testing.connector_contract.ConnectorContract]
about what other parties see: keys that survive JSON, a ``config()`` that
rebuilds an equivalent connector and holds no secret, ``close()`` keeping
shared data, many threads using one connector, and a spawned process
rebuilt from ``config()``. The contract inherits them; its settings are
declared here only for type checking.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

__all__ = ["SharingChecks"]

_TIMEOUT = 60.0
"""Seconds any wait of the suite may last (threads, child processes)."""

_FORBIDDEN_CONFIG_KEYS = frozenset(
    {"password", "passwd", "secret", "token", "api_key", "clear_on_close"}
)


def _cross_process_child(
    connector_type: Any, config: dict[str, Any], key: Any, results: Any
) -> None:
    """Run in a spawned child: read ``key`` and write an object of its own."""
    try:
        connector = connector_type.from_config(config)
        try:
            data = connector.get(key)
            new_key = connector.put(b"written by the child process")
        finally:
            connector.close()
        results.put(("ok", None if data is None else bytes(data), new_key))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put(("error", repr(exc), None))


class SharingChecks:
    """Keys, config, close, threads and processes (mixed into the connector contract)."""

    supports_cross_process: ClassVar[bool]
    secret_strings: ClassVar[tuple[str, ...]]

    # -- keys -----------------------------------------------------------------------

    def test_keys_are_distinct_and_json_serializable(self, connector: Any) -> None:
        """Every ``put`` makes a new key, even for equal bytes; keys survive JSON."""
        keys = [connector.put(b"same bytes") for _ in range(10)]
        keys += connector.put_batch([b"same bytes"] * 10)
        assert len({json.dumps(key) for key in keys}) == 20
        for key in keys:
            assert json.loads(json.dumps(key)) == key

    # -- config ---------------------------------------------------------------------

    def test_config_is_json_serializable(self, connector: Any) -> None:
        """``config()`` is a dict that survives a JSON round trip unchanged."""
        config = connector.config()
        assert isinstance(config, dict)
        assert json.loads(json.dumps(config)) == config

    def test_config_holds_no_secret_and_no_destructive_flag(self, connector: Any) -> None:
        """``config()`` has no password, token or destructive option."""
        config = connector.config()

        def keys_of(value: Any) -> Iterator[str]:
            if isinstance(value, dict):
                for name, item in value.items():
                    yield str(name).lower()
                    yield from keys_of(item)
            elif isinstance(value, list):
                for item in value:
                    yield from keys_of(item)

        assert not set(keys_of(config)) & _FORBIDDEN_CONFIG_KEYS
        dumped = json.dumps(config)
        for secret in self.secret_strings:
            assert secret not in dumped

    def test_from_config_reads_the_same_data(self, connector: Any, rebuilt: Any) -> None:
        """A connector rebuilt from ``config()`` shares the data both ways."""
        key = connector.put(b"shared")
        got = rebuilt.get(key)
        assert got is not None
        assert bytes(got) == b"shared"
        other_key = rebuilt.put(b"from the rebuilt connector")
        got = connector.get(other_key)
        assert got is not None
        assert bytes(got) == b"from the rebuilt connector"

    # -- close ------------------------------------------------------------------------

    def test_close_twice_keeps_shared_data(self, connector: Any) -> None:
        """``close()`` may be called twice and keeps data other connectors read."""
        key = connector.put(b"survives close")
        other = type(connector).from_config(connector.config())
        other.close()
        other.close()
        got = connector.get(key)
        assert got is not None
        assert bytes(got) == b"survives close"

    # -- threads ------------------------------------------------------------------------

    def test_thread_safety(self, connector: Any) -> None:
        """8 threads doing 50 ``put``/``get`` each see their own bytes and distinct keys."""
        threads, rounds = 8, 50
        barrier = threading.Barrier(threads, timeout=_TIMEOUT)

        def work(worker: int) -> list[Any]:
            barrier.wait()
            keys = []
            for i in range(rounds):
                payload = b"worker %d round %d" % (worker, i)
                key = connector.put(payload)
                got = connector.get(key)
                assert got is not None
                assert bytes(got) == payload
                keys.append(key)
            return keys

        with ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(work, worker) for worker in range(threads)]
            keys = [key for future in futures for key in future.result(_TIMEOUT)]
        assert len({json.dumps(key) for key in keys}) == threads * rounds

    # -- processes -----------------------------------------------------------------------

    def test_cross_process_round_trip(self, connector: Any) -> None:
        """A spawned child rebuilt from ``config()`` reads the parent's object and vice versa."""
        if not self.supports_cross_process:
            pytest.skip("this connector does not cross processes")
        key = connector.put(b"written by the parent process")
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        child = context.Process(
            target=_cross_process_child,
            args=(type(connector), connector.config(), key, results),
            daemon=True,
        )
        child.start()
        try:
            try:
                status, data, child_key = results.get(timeout=_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"child process gave no answer within {_TIMEOUT}s")
            child.join(_TIMEOUT)
        finally:
            if child.is_alive():
                child.terminate()
                child.join(_TIMEOUT)
            results.close()
        assert status == "ok", data
        assert data == b"written by the parent process"
        got = connector.get(child_key)
        assert got is not None
        assert bytes(got) == b"written by the child process"
