"""The trust policy: which locations an event may name, and which settings it may not set."""

from __future__ import annotations

import queue
import uuid
from pathlib import Path
from typing import Any

import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.store import Store, StoreConfig, register_store, unregister_store
from proxyflow.stream import (
    EventDecodeError,
    EventRejectedError,
    StreamConsumer,
    StreamProducer,
    TrustedLocation,
    UntrustedLocationError,
)
from proxyflow.stream.events import NewObjectKeyEvent, encode_event, encode_store_config
from proxyflow.stream.trust import TRUSTED_LOCATIONS_ENV, TrustPolicy, location_of


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUSTED_LOCATIONS_ENV, raising=False)
    monkeypatch.delenv("PROXYFLOW_SIGNING_KEY", raising=False)


def file_config(directory: Path | str, name: str = "s") -> StoreConfig:
    return StoreConfig(name, "file", {"store_dir": str(directory)})


def redis_config(url: str, **options: Any) -> StoreConfig:
    return StoreConfig("r", "redis", {"url": url, **options})


def test_untrusted_location_is_a_rejected_decode_error() -> None:
    assert issubclass(UntrustedLocationError, EventRejectedError)
    assert issubclass(UntrustedLocationError, EventDecodeError)


def test_file_location_covers_its_subdirectories_only(tmp_path: Path) -> None:
    policy = TrustPolicy([f"file:{tmp_path}/trusted"], signed=False)
    admitted = policy.admit(file_config(tmp_path / "trusted" / "run-1"))
    assert isinstance(admitted, StoreConfig)
    assert admitted.options == {"store_dir": str(tmp_path / "trusted" / "run-1")}
    for outside in (tmp_path / "trusted-not", tmp_path / "trusted" / ".." / "other", tmp_path):
        with pytest.raises(UntrustedLocationError, match="does not trust"):
            policy.admit(file_config(outside))


def test_relative_directory_in_an_event_is_refused(tmp_path: Path) -> None:
    policy = TrustPolicy(["*"], signed=False)
    with pytest.raises(UntrustedLocationError, match="absolute"):
        policy.admit(file_config("relative/dir"))


def test_relative_trusted_directory_is_taken_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policy = TrustPolicy(["file:objects"], signed=False)
    assert isinstance(policy.admit(file_config(tmp_path / "objects")), StoreConfig)


def test_redis_location_is_host_port_and_database() -> None:
    policy = TrustPolicy(["redis://Cache.example:6379/2"], signed=False)
    for url in (
        "redis://cache.example:6379/2",
        "redis://user@cache.example/2",
        "redis://cache.example:6379?db=2",
        "redis://cache.example:6379/2?socket_timeout=99",
    ):
        admitted = policy.admit(redis_config(url))
        assert isinstance(admitted, StoreConfig)
        assert admitted.options["url"] == "redis://Cache.example:6379/2"  # the consumer's URL
    for url in (
        "redis://cache.example:6379/3",
        "redis://cache.example:6380/2",
        "rediss://cache.example/2",
    ):
        with pytest.raises(UntrustedLocationError):
            policy.admit(redis_config(url))


def test_client_settings_of_an_event_are_dropped_for_those_of_the_trusted_location() -> None:
    entry = TrustedLocation("redis://10.1.2.3:6379/0", {"socket_timeout": 1.5})
    policy = TrustPolicy([entry], signed=False)
    event = redis_config(
        "redis://10.1.2.3:6379/0", prefix="p:", socket_timeout=3600.0, password_env="STOLEN"
    )
    admitted = policy.admit(event)
    assert isinstance(admitted, StoreConfig)
    assert admitted.options == {
        "url": "redis://10.1.2.3:6379/0",
        "prefix": "p:",
        "socket_timeout": 1.5,
    }


def test_trust_all_and_signed_policies_still_drop_client_settings() -> None:
    event = redis_config("redis://h:1/0?password=x", password_env="STOLEN", connect_timeout=60.0)
    for policy in (TrustPolicy(["*"], signed=False), TrustPolicy([], signed=True)):
        admitted = policy.admit(event)
        assert isinstance(admitted, StoreConfig)
        assert admitted.options == {"url": "redis://h:1/0"}


def test_trusted_locations_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUSTED_LOCATIONS_ENV, f" redis://h:6379/0 ,, file:{tmp_path} ")
    policy = TrustPolicy(None, signed=False)
    assert [e.kind for e in policy.entries] == ["redis", "file"]
    assert isinstance(policy.admit(file_config(tmp_path / "x")), StoreConfig)
    assert TrustPolicy([], signed=False).entries == ()  # an explicit list replaces it


@pytest.mark.parametrize(
    ("location", "options", "message"),
    [
        ("ftp://host/dir", {}, "must start with"),
        ("file:", {}, "no directory"),
        ("redis://host:notaport/0", {}, "port"),
        ("file:/data", {"socket_timeout": 1.0}, "not client settings"),
        ("redis://host/0", {"prefix": "x"}, "not client settings"),
    ],
)
def test_malformed_trusted_locations_are_refused(
    location: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TrustedLocation(location, options)


def test_registered_store_at_the_same_location_is_used(tmp_path: Path) -> None:
    store = Store(f"reg-{uuid.uuid4().hex[:6]}", FileConnector(tmp_path / "reg"))
    register_store(store)
    try:
        policy = TrustPolicy([], signed=False)
        assert policy.admit(store.config()) is store
        with pytest.raises(UntrustedLocationError):  # same name, another directory
            policy.admit(file_config(tmp_path / "elsewhere", store.name))
    finally:
        unregister_store(store)
        store.close()


def test_local_stores_need_no_setting() -> None:
    store = Store("local-trust", LocalConnector())
    assert isinstance(TrustPolicy([], signed=False).admit(store.config()), StoreConfig)


def test_location_of_a_connector_without_location_options_is_refused() -> None:
    class Opaque:
        kind = "opaque"

    from proxyflow.store import register_connector_class

    register_connector_class("opaque-trust-test", Opaque)  # type: ignore[arg-type]
    with pytest.raises(UntrustedLocationError, match="location_options"):
        location_of(StoreConfig("o", "opaque-trust-test", {"anything": 1}))


def test_consumer_skips_and_counts_untrusted_events(tmp_path: Path) -> None:
    q: queue.Queue[bytes] = queue.Queue()
    config = encode_store_config(file_config(tmp_path / "untrusted"))
    q.put(encode_event(NewObjectKeyEvent(b"evil", "t", 0, config, "0123456789abcdef0", True)))
    store = Store("trusted-here", FileConnector(tmp_path / "mine"))
    with StreamProducer(QueuePublisher({"t": q}), default_store=store) as producer:
        producer.send("t", "genuine")
        producer.close_topics("t")
    consumer = StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=5, on_decode_error="skip")
    with consumer:
        assert list(consumer.iter_objects()) == ["genuine"]
        assert consumer.stats.untrusted == 1
        assert consumer.stats.skipped_bad_messages == 0
    assert not (tmp_path / "untrusted").exists()
