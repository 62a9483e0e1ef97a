"""Content digests: computed when storing, checked before deserializing, carried by proxies."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.proxy import ProxyResolveError
from proxyflow.store import (
    DIGEST_SIZE,
    CheckedDeserializer,
    ContentDigestError,
    Store,
    StoreError,
    StoreFactory,
    content_digest,
)


@pytest.fixture(params=["local", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    connector = LocalConnector() if request.param == "local" else FileConnector(tmp_path / "s")
    return Store(f"digest-{request.param}", connector, metrics=True)


OBJECTS = [b"raw bytes", "text", {"a": [1, 2]}, np.arange(100_000)]  # the array goes in pieces


def test_put_digested_returns_the_digest_of_the_stored_bytes(store: Store) -> None:
    for obj in OBJECTS:
        key, digest = store.put_digested(obj)
        assert len(digest) == DIGEST_SIZE
        assert digest == content_digest([store.connector.get(key)])
    assert store.metrics is not None
    snapshot = store.metrics.snapshot()
    assert snapshot["operations"]["put"]["count"] == len(OBJECTS)
    assert snapshot["objects_held"] == len(OBJECTS)


def test_digest_of_serialized_pieces_matches_the_stored_bytes(store: Store) -> None:
    pieces = [store.serialize(obj) for obj in OBJECTS]
    keys = store.put_serialized_batch(pieces)
    for key, parts in zip(keys, pieces, strict=True):
        assert content_digest(parts) == content_digest([store.connector.get(key)])


def test_a_checked_read_rejects_changed_bytes_without_deserializing(store: Store) -> None:
    key, digest = store.put_digested({"x": 1})
    calls: list[object] = []

    def spy(data: object) -> object:
        calls.append(data)
        return store.deserializer(data)  # type: ignore[arg-type]

    assert store.get(key, deserializer=CheckedDeserializer(spy, digest)) == {"x": 1}
    wrong = bytes(DIGEST_SIZE)
    with pytest.raises(ContentDigestError, match="changed in storage"):
        store.get(key, deserializer=CheckedDeserializer(spy, wrong))
    assert len(calls) == 1
    assert issubclass(ContentDigestError, StoreError)
    assert issubclass(ContentDigestError, ValueError)


def test_proxies_carry_the_digest_through_pickles(store: Store) -> None:
    key, digest = store.put_digested([1, 2, 3])
    good = pickle.loads(pickle.dumps(store.proxy_from_key(key, digest=digest)))
    assert good == [1, 2, 3]
    bad = pickle.loads(pickle.dumps(store.proxy_from_key(key, digest=bytes(DIGEST_SIZE))))
    with pytest.raises(ProxyResolveError) as caught:
        len(bad)
    assert isinstance(caught.value.__cause__, ContentDigestError)


def test_a_factory_without_digest_pickles_as_before(store: Store) -> None:
    key = store.put(1)
    factory = StoreFactory(key, store.config())
    assert len(pickle.dumps(factory)) == len(
        pickle.dumps(StoreFactory(key, store.config(), digest=None))
    )
    assert StoreFactory(key, store.config(), digest=b"d" * 32) != factory
