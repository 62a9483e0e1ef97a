"""The behavioural contract every proxyflow connector must satisfy, as a pytest base class.

Subclass [`ConnectorContract`][proxyflow.testing.connector_contract.ConnectorContract] in a
test module (with a name pytest collects, such as ``TestMyConnector``) and supply one
fixture, ``connector``, that returns a fresh connector instance. The subclass inherits one
test per guarantee of the [`Connector`][proxyflow.api.connector_protocols.Connector] protocol. The
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
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

from proxyflow.testing._connector_batches import BatchChecks
from proxyflow.testing._connector_sharing import _TIMEOUT, SharingChecks

__all__ = ["ConnectorContract"]


def _payloads() -> list[Any]:
    return [
        pytest.param(b"hello proxyflow", id="bytes"),
        pytest.param(bytearray(b"a bytearray \x00\xff"), id="bytearray"),
        pytest.param(memoryview(b"a memoryview \x00\x01"), id="memoryview"),
        pytest.param(memoryview(b"xx-sliced view-xx")[3:-3], id="memoryview-slice"),
        pytest.param(memoryview(array.array("i", range(64))), id="memoryview-int32"),
        pytest.param(b"", id="empty"),
    ]


class ConnectorContract(BatchChecks, SharingChecks):
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
