"""Store.get_async: the read of get, awaited; on the loop for Redis, in a thread for files."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.serialize import SerializationError
from proxyflow.store import ContentDigestError, Store, StoreClosedError
from proxyflow.store.digest import CheckedDeserializer, content_digest
from proxyflow.store.registry import unregister_store

pytestmark = pytest.mark.timeout(30)


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a worker thread was used")


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Store]:
    name = f"get-async-{uuid.uuid4().hex[:8]}"
    store = Store(name, FileConnector(str(tmp_path / "objects")))
    yield store
    store.close()
    unregister_store(name)


def test_a_redis_store_reads_on_the_loop_without_a_thread(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = redis_store.put({"a": [1, 2]})
    monkeypatch.setattr(asyncio, "to_thread", _refuse)
    monkeypatch.setattr(redis_store.connector, "get", _refuse)
    assert _run(redis_store.get_async(key)) == {"a": [1, 2]}
    assert redis_store.is_cached(key)  # filled like get's cache
    assert _run(redis_store.get_async(key, evict=True)) == {"a": [1, 2]}
    assert not redis_store.exists(key)
    assert not redis_store.is_cached(key)
    assert _run(redis_store.get_async(key, default="gone")) == "gone"


def test_a_file_store_reads_in_a_worker_thread(
    file_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = file_store.put(b"bytes in, bytes out")
    used: list[Any] = []
    to_thread = asyncio.to_thread

    async def recording(func: Any, *args: Any, **kwargs: Any) -> Any:
        used.append(func)
        return await to_thread(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", recording)
    value = _run(file_store.get_async(key, evict=True))
    assert (value, type(value)) == (b"bytes in, bytes out", bytes)
    assert used == [file_store.get]
    assert _run(file_store.get_async(key, default=None)) is None


@pytest.mark.parametrize("which", ["redis", "file"])
def test_errors_are_get_s_own(which: str, request: pytest.FixtureRequest) -> None:
    store: Store = request.getfixturevalue(f"{which}_store")
    key = store.put([1, 2, 3])
    wrong = CheckedDeserializer(store.deserializer, content_digest([b"other bytes"]))
    with pytest.raises(ContentDigestError):
        _run(store.get_async(key, deserializer=wrong))
    with pytest.raises(SerializationError):
        _run(store.get_async(key, deserializer="no-such-serializer"))
    store.close()
    with pytest.raises(StoreClosedError):
        _run(store.get_async(key))
