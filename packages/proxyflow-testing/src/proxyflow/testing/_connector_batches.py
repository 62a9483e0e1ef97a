"""The connector suite's checks of writes made of several pieces.

``BatchChecks`` holds the tests of
[`ConnectorContract`][proxyflow.testing.connector_contract.ConnectorContract]
about batches (``put_batch``, ``get_batch``, their order and their missing
keys), the all-or-nothing guarantee of a write the storage refuses part way,
and the optional ``put_parts``. The contract inherits them; its hooks and
settings are declared here only for type checking.
"""

from __future__ import annotations

import array
import contextlib
import os
from typing import TYPE_CHECKING, Any

import pytest

from proxyflow.api.exceptions import BackendError

__all__ = ["BatchChecks"]


class BatchChecks:
    """Batches, all-or-nothing writes and ``put_parts`` (mixed into the connector contract)."""

    if TYPE_CHECKING:

        def missing_key(self, connector: Any) -> Any:
            """See ``ConnectorContract.missing_key``."""

        def fail_writes_after(
            self, connector: Any, count: int, size: int
        ) -> contextlib.AbstractContextManager[None]:
            """See ``ConnectorContract.fail_writes_after``."""

        def stored_objects(self, connector: Any) -> int:
            """See ``ConnectorContract.stored_objects``."""

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

    @pytest.mark.parametrize("room", [0, 1, 3])
    def test_failed_put_batch_at_any_position_keeps_other_objects(
        self, connector: Any, room: int
    ) -> None:
        """Wherever a batch fails, none of it stays and objects stored before it are intact.

        The stream producer relies on this to report a failed batch as a
        whole: no object of it may be left behind (an orphan), and no other
        object may be taken down with it.
        """
        size = 16 * 1024
        earlier = connector.put(b"stored before the batch")
        before = self.stored_objects(connector)
        with self.fail_writes_after(connector, room, size):
            with pytest.raises(BackendError) as info:
                connector.put_batch([os.urandom(size) for _ in range(6)])
            assert self.stored_objects(connector) == before, f"failed at {room}: objects left"
        assert not getattr(info.value, "leftover_keys", ()), "cleanup failed"
        got = connector.get(earlier)
        assert got is not None, "an object stored before the failed batch was removed"
        assert bytes(got) == b"stored before the batch"

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
