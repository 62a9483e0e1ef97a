"""The behavioural contract every proxyflow connector must satisfy, as a pytest base class.

Subclass [`ConnectorContract`][proxyflow.testing.connector_contract.ConnectorContract] in a
test module (with a name pytest collects, such as ``TestMyConnector``) and supply one
fixture, ``connector``, that returns a fresh connector instance. The subclass inherits one
test per guarantee of the [`Connector`][proxyflow.api.protocols.Connector] protocol. The
suite checks connectors structurally; of proxyflow it imports only the dependency-free
``proxyflow.api`` (for the error classes a connector must raise).

Two guarantees need the storage to fail part way through a write: a failed
``put_batch`` (or ``put_parts``) leaves nothing stored. To test them, override
[`fail_writes_after`][proxyflow.testing.connector_contract.ConnectorContract.fail_writes_after]
(make the connector's storage refuse writes after some objects, ideally for
real: a tiny file system, Redis ``maxmemory``) and, if the connector has no
``stats()``,
[`stored_objects`][proxyflow.testing.connector_contract.ConnectorContract.stored_objects].
Without them those tests are skipped.

Example:
    ```python
    import pytest
    from proxyflow.connectors.file import FileConnector
    from proxyflow.testing import ConnectorContract


    class TestFileConnector(ConnectorContract):
        @pytest.fixture
        def connector(self, tmp_path):
            connector = FileConnector(tmp_path / "objects")
            yield connector
            connector.close()
    ```
"""

from __future__ import annotations

import array
import contextlib
import json
import multiprocessing
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

from proxyflow.api.exceptions import BackendError

__all__ = ["ConnectorContract"]

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


def _payloads() -> list[Any]:
    return [
        pytest.param(b"hello proxyflow", id="bytes"),
        pytest.param(bytearray(b"a bytearray \x00\xff"), id="bytearray"),
        pytest.param(memoryview(b"a memoryview \x00\x01"), id="memoryview"),
        pytest.param(memoryview(b"xx-sliced view-xx")[3:-3], id="memoryview-slice"),
        pytest.param(memoryview(array.array("i", range(64))), id="memoryview-int32"),
        pytest.param(b"", id="empty"),
    ]


class ConnectorContract:
    """Tests every connector must pass; subclasses supply the ``connector`` fixture.

    The base class closes only the connectors it builds itself with
    ``from_config``; the fixture owns the instance it returns.

    Attributes:
        supports_cross_process: Whether a connector rebuilt with ``from_config``
            in a spawned child process reads the parent's objects (and the
            parent reads the child's). Set it to ``False`` for in-process
            connectors.
        evict_is_exclusive: Whether, when several threads ``get(key,
            evict=True)`` the same key, exactly one of them receives the bytes.
        secret_strings: Strings (such as a password used by the fixture) that
            must never appear in ``config()``.
        large_payload_size: Size in bytes of the large round-trip payload.
    """

    supports_cross_process: ClassVar[bool] = True
    evict_is_exclusive: ClassVar[bool] = True
    secret_strings: ClassVar[tuple[str, ...]] = ()
    large_payload_size: ClassVar[int] = 5 * 1024 * 1024

    @pytest.fixture
    def connector(self) -> Any:
        """A fresh connector; every subclass must override this fixture."""
        pytest.fail(f"{type(self).__name__} must define a `connector` fixture")

    @pytest.fixture
    def rebuilt(self, connector: Any) -> Iterator[Any]:
        """A second connector built from ``connector.config()``, closed afterwards."""
        other = type(connector).from_config(json.loads(json.dumps(connector.config())))
        yield other
        other.close()

    def missing_key(self, connector: Any) -> Any:
        """Return a key that held an object and no longer does."""
        key = connector.put(b"soon gone")
        connector.evict(key)
        return key

    def fail_writes_after(
        self, connector: Any, count: int, size: int
    ) -> contextlib.AbstractContextManager[None]:
        """Return a context in which ``connector`` stores ``count`` more objects, then fails.

        Override it to test the all-or-nothing guarantees. Inside the
        ``with`` block, after ``count`` more objects of ``size`` bytes have been
        stored (approximately, for real conditions), every further write must
        fail the way the storage fails when it is full, so that the
        connector raises a ``proxyflow.api`` backend error (a
        ``BackendFullError``, typically). Leaving the block restores normal
        operation. The default skips the test.

        Args:
            connector: The connector under test.
            count: Objects that may still be stored.
            size: The size of each object the test writes.
        """
        pytest.skip(f"{type(self).__name__} does not override fail_writes_after()")

    def stored_objects(self, connector: Any) -> int:
        """Return how many objects the storage under ``connector`` holds.

        Defaults to ``connector.stats()["objects"]``; override it for
        connectors without ``stats()`` (for Redis, count the keys under the
        prefix). The default skips the test when there is no ``stats()``.
        """
        stats = getattr(connector, "stats", None)
        if stats is None:
            pytest.skip(f"{type(self).__name__} does not override stored_objects()")
        count: int = stats()["objects"]
        return count

    # -- attributes ---------------------------------------------------------------

    def test_kind_is_a_non_empty_str(self, connector: Any) -> None:
        """The class names its entry point with a non-empty ``kind`` string."""
        assert isinstance(type(connector).kind, str)
        assert type(connector).kind
        assert connector.kind == type(connector).kind

    # -- round trips --------------------------------------------------------------

    @pytest.mark.parametrize("payload", _payloads())
    def test_put_get_round_trip(self, connector: Any, payload: Any) -> None:
        """``get`` returns a bytes-like equal to what ``put`` stored, for every bytes-like."""
        expected = bytes(payload)
        key = connector.put(payload)
        got = connector.get(key)
        assert isinstance(got, (bytes, bytearray, memoryview))
        assert bytes(got) == expected
        assert connector.exists(key)

    def test_large_payload_round_trip(self, connector: Any) -> None:
        """A large payload (5 MiB by default) comes back whole."""
        payload = os.urandom(self.large_payload_size)
        key = connector.put(memoryview(payload))
        got = connector.get(key)
        assert got is not None
        assert len(got) == len(payload)
        assert bytes(got) == payload

    def test_put_copies_or_persists_the_buffer(self, connector: Any) -> None:
        """Mutating the caller's buffer after ``put`` does not change the stored object."""
        buffer = bytearray(b"original")
        key = connector.put(buffer)
        buffer[:] = b"mutated!"
        got = connector.get(key)
        assert got is not None
        assert bytes(got) == b"original"

    def test_get_twice_without_evict_keeps_the_object(self, connector: Any) -> None:
        """``get`` without ``evict`` leaves the object in place."""
        key = connector.put(b"kept")
        first, second = connector.get(key), connector.get(key)
        assert first is not None
        assert second is not None
        assert bytes(first) == bytes(second) == b"kept"

    # -- missing keys -------------------------------------------------------------

    def test_missing_key_get_returns_none(self, connector: Any) -> None:
        """``get`` of a missing key returns ``None``, with or without ``evict``."""
        key = self.missing_key(connector)
        assert connector.get(key) is None
        assert connector.get(key, evict=True) is None

    def test_missing_key_does_not_exist(self, connector: Any) -> None:
        """``exists`` of a missing key is ``False``."""
        assert not connector.exists(self.missing_key(connector))

    def test_evict_missing_key_is_a_no_op(self, connector: Any) -> None:
        """``evict`` of a missing key neither raises nor touches other objects."""
        key = self.missing_key(connector)
        other = connector.put(b"untouched")
        connector.evict(key)
        connector.evict(key)
        got = connector.get(other)
        assert got is not None
        assert bytes(got) == b"untouched"

    # -- eviction -----------------------------------------------------------------

    def test_evict_removes_only_its_key(self, connector: Any) -> None:
        """``evict`` removes its key and no other."""
        gone, kept = connector.put(b"gone"), connector.put(b"kept")
        connector.evict(gone)
        assert not connector.exists(gone)
        assert connector.get(gone) is None
        assert connector.exists(kept)

    def test_get_with_evict_returns_and_removes(self, connector: Any) -> None:
        """``get(key, evict=True)`` returns the bytes and removes them."""
        key = connector.put(b"read once")
        got = connector.get(key, evict=True)
        assert got is not None
        assert bytes(got) == b"read once"
        assert not connector.exists(key)
        assert connector.get(key) is None

    def test_concurrent_evicting_gets_deliver_once(self, connector: Any) -> None:
        """Threads evicting the same keys receive each object exactly once."""
        if not self.evict_is_exclusive:
            pytest.skip("this connector does not promise exclusive eviction")
        keys = connector.put_batch([b"%d" % i for i in range(20)])
        barrier = threading.Barrier(4, timeout=_TIMEOUT)

        def evict_all() -> list[bytes]:
            barrier.wait()
            return [bytes(got) for key in keys if (got := connector.get(key, evict=True))]

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(evict_all) for _ in range(4)]
            received = [item for future in futures for item in future.result(_TIMEOUT)]
        assert sorted(received) == sorted(b"%d" % i for i in range(20))

    # -- batches ------------------------------------------------------------------

    def test_put_batch_then_get_batch_in_order(self, connector: Any) -> None:
        """``put_batch`` keys and ``get_batch`` values follow the input order."""
        payloads = [b"first", bytearray(b"second"), memoryview(b"third"), b""]
        keys = connector.put_batch(payloads)
        assert len(keys) == len(payloads)
        got = connector.get_batch(keys)
        assert [None if item is None else bytes(item) for item in got] == [
            bytes(p) for p in payloads
        ]
        for key, payload in zip(keys, payloads, strict=True):
            item = connector.get(key)
            assert item is not None
            assert bytes(item) == bytes(payload)

    def test_get_batch_gives_none_for_missing_keys(self, connector: Any) -> None:
        """``get_batch`` gives ``None`` in the place of each missing key."""
        present = connector.put(b"present")
        missing = self.missing_key(connector)
        got = connector.get_batch([missing, present, missing])
        assert got[0] is None
        assert got[1] is not None
        assert bytes(got[1]) == b"present"
        assert got[2] is None

    def test_get_batch_with_evict_returns_and_removes(self, connector: Any) -> None:
        """``get_batch(evict=True)`` returns and removes only the keys asked for."""
        keys = connector.put_batch([b"one", b"two"])
        kept = connector.put(b"kept")
        missing = self.missing_key(connector)
        got = connector.get_batch([keys[0], missing, keys[1]], evict=True)
        assert [None if item is None else bytes(item) for item in got] == [b"one", None, b"two"]
        assert not any(connector.exists(key) for key in keys)
        assert connector.get_batch(keys) == [None, None]
        assert connector.exists(kept)

    def test_empty_batches(self, connector: Any) -> None:
        """Empty batches give empty lists."""
        assert list(connector.put_batch([])) == []
        assert list(connector.get_batch([])) == []
        assert list(connector.get_batch([], evict=True)) == []

    # -- all or nothing ---------------------------------------------------------------

    def test_failed_put_batch_leaves_nothing_stored(self, connector: Any) -> None:
        """A ``put_batch`` that fails part way raises a backend error and keeps nothing.

        Two objects fit, the third does not: the first two, already written,
        must be removed again. The connector stays usable afterwards.
        """
        size = 16 * 1024
        before = self.stored_objects(connector)
        payloads = [os.urandom(size) for _ in range(6)]
        with self.fail_writes_after(connector, 2, size):
            with pytest.raises(BackendError) as info:
                connector.put_batch(payloads)
            assert self.stored_objects(connector) == before, "a failed batch left objects"
        assert not getattr(info.value, "leftover_keys", ()), "cleanup failed"
        key = connector.put(b"written after the failure")
        got = connector.get(key)
        assert got is not None
        assert bytes(got) == b"written after the failure"

    def test_failed_put_and_put_parts_leave_nothing_stored(self, connector: Any) -> None:
        """A ``put`` or ``put_parts`` the storage refuses raises a backend error, keeps nothing."""
        size = 16 * 1024
        before = self.stored_objects(connector)
        put_parts = getattr(connector, "put_parts", None)
        with self.fail_writes_after(connector, 0, size):
            with pytest.raises(BackendError):
                connector.put(os.urandom(size))
            if put_parts is not None:
                with pytest.raises(BackendError):
                    put_parts([b"head", os.urandom(size), b"tail"])
            assert self.stored_objects(connector) == before

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

    # -- stats (optional) ------------------------------------------------------------------

    def test_stats_count_objects_and_bytes(self, connector: Any) -> None:
        """If the connector has ``stats()``, it counts objects and bytes exactly."""
        stats = getattr(connector, "stats", None)
        if stats is None:
            pytest.skip("this connector has no stats()")
        before = stats()
        key = connector.put(b"0123456789")
        after = stats()
        assert after["objects"] == before["objects"] + 1
        assert after["bytes"] == before["bytes"] + 10
        connector.evict(key)
        assert stats() == before

    # -- put_parts (optional) --------------------------------------------------------------

    def test_put_parts_round_trip(self, connector: Any) -> None:
        """If the connector has ``put_parts``, it stores the concatenation of the parts.

        Checked with mixed buffer types (including a non-byte memoryview), no
        parts at all, empty parts, more parts than one ``writev`` takes
        (``IOV_MAX`` is 1024 on Linux), and an evicting read.
        """
        put_parts = getattr(connector, "put_parts", None)
        if put_parts is None:
            pytest.skip("this connector has no put_parts()")
        mixed = [
            b"header",
            bytearray(b"\x00\xff"),
            memoryview(b"--sliced--")[2:-2],
            memoryview(array.array("i", range(100))),
            b"",
            os.urandom(300_000),
        ]
        many = [b"%d," % i for i in range(2500)]
        cases: dict[str, list[Any]] = {
            "mixed": mixed,
            "none": [],
            "empty parts": [b"", bytearray()],
            "many": many,
        }
        for name, parts in cases.items():
            expected = b"".join(bytes(part) for part in parts)
            key = put_parts(parts)
            joined_key = connector.put(expected)
            assert key != joined_key, name
            got, joined = connector.get(key), connector.get(joined_key)
            assert got is not None, name
            assert joined is not None, name
            assert bytes(got) == bytes(joined) == expected, name
            evicted = connector.get(key, evict=True)
            assert evicted is not None, name
            assert bytes(evicted) == expected, name
            assert connector.get(key) is None, name

    def test_put_parts_copies_or_persists_the_buffers(self, connector: Any) -> None:
        """If the connector has ``put_parts``, mutating the parts afterwards changes nothing."""
        put_parts = getattr(connector, "put_parts", None)
        if put_parts is None:
            pytest.skip("this connector has no put_parts()")
        first, second = bytearray(b"original "), bytearray(b"parts" * 20_000)
        key = put_parts([first, memoryview(second)])
        first[:] = b"mutated! "
        second[:5] = b"xxxxx"
        got = connector.get(key)
        assert got is not None
        assert bytes(got) == b"original " + b"parts" * 20_000

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
