"""Attacks through the store config of an event, without a signing key: each fails to do harm.

Whoever can publish on a topic writes the store config of its events. These
tests publish hand-made events on a real Redis broker (the list shim, so no
subscription race) and check that a consumer with the default trust policy
reads, deletes, unpickles and connects to nothing the event chose, that an
event cannot choose a timeout, and that trusted locations still work.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")

from pfit.attacks import Marker, forget_trust_settings

from proxyflow.connectors.file import FileConnector
from proxyflow.proxy import ProxyResolveError
from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber
from proxyflow.store import ObjectMissingError, Store, StoreConfig, get_store
from proxyflow.stream import (
    StreamConsumer,
    StreamProducer,
    TrustedLocation,
    UntrustedLocationError,
)
from proxyflow.stream.events import (
    EndOfStreamEvent,
    NewObjectKeyEvent,
    encode_event,
    encode_store_config,
)

ATTACKER = b"attacker"
SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not really"
KEY = "0123456789abcdef0"  # a well-formed connector key


@pytest.fixture
def topic() -> str:
    return f"trust-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _no_trust_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_trust_settings(monkeypatch)


def publish(redis_url: str, topic: str, *messages: bytes) -> None:
    """Publish raw messages on the topic, then the attacker's end of stream."""
    with RedisQueuePublisher(redis_url) as publisher:
        for message in messages:
            publisher.send_message(topic, message)
        publisher.send_message(topic, encode_event(EndOfStreamEvent(ATTACKER, topic, 99)))


def key_event(topic: str, config: StoreConfig, *, evict: bool = False, seq: int = 0) -> bytes:
    event = NewObjectKeyEvent(ATTACKER, topic, seq, encode_store_config(config), KEY, evict)
    return encode_event(event)


def consumer(redis_url: str, topic: str, **options: Any) -> StreamConsumer[Any]:
    return StreamConsumer(RedisQueueSubscriber(redis_url, [topic]), timeout=10, **options)


def plant(directory: Path, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY
    path.write_bytes(data)
    return path


def test_event_cannot_read_a_file_outside_the_trusted_locations(
    redis_url: str, topic: str, tmp_path: Path
) -> None:
    secret = plant(tmp_path / "home" / ".ssh", SECRET)
    trusted = tmp_path / "objects"
    config = StoreConfig("innocent", "file", {"store_dir": str(secret.parent)})
    publish(redis_url, topic, key_event(topic, config))
    reader = consumer(redis_url, topic, trusted_locations=[f"file:{trusted}"])
    with reader, pytest.raises(UntrustedLocationError, match="does not trust"):
        reader.next_object()
    assert secret.read_bytes() == SECRET
    assert get_store("innocent") is None  # nothing was built


def test_event_cannot_delete_a_file_with_evict(redis_url: str, topic: str, tmp_path: Path) -> None:
    secret = plant(tmp_path / "precious", SECRET)
    config = StoreConfig("s", "file", {"store_dir": str(secret.parent)})
    publish(redis_url, topic, key_event(topic, config, evict=True))
    with consumer(redis_url, topic, on_decode_error="skip") as reader:
        assert list(reader.iter_objects()) == []
        assert reader.stats.untrusted == 1
    assert secret.read_bytes() == SECRET


def test_event_cannot_create_a_directory(redis_url: str, topic: str, tmp_path: Path) -> None:
    target = tmp_path / "made-by-event"
    config = StoreConfig("s", "file", {"store_dir": str(target)})
    publish(redis_url, topic, key_event(topic, config))
    with consumer(redis_url, topic) as reader, pytest.raises(UntrustedLocationError):
        reader.next()
    assert not target.exists()


def test_event_cannot_run_code_through_a_pickle_in_its_own_directory(
    redis_url: str, topic: str, tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    evil_dir = tmp_path / "attacker-writable"
    with Store("evil", FileConnector(evil_dir)) as evil:  # the attacker's own process
        key = evil.put(Marker(marker))
    config = StoreConfig("evil", "file", {"store_dir": str(evil_dir)})
    event = NewObjectKeyEvent(ATTACKER, topic, 0, encode_store_config(config), key, False)
    publish(redis_url, topic, encode_event(event))
    with consumer(redis_url, topic, on_decode_error="skip") as reader:
        assert list(reader.iter_objects()) == []  # resolving: nothing unpickled
        assert reader.stats.untrusted == 1
    assert not marker.exists()
    assert (evil_dir / key).exists()


class Listener:
    """A TCP server on 127.0.0.1 recording connections and bytes; answers nil (or nothing)."""

    def __init__(self, *, answer: bool) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.connections = 0
        self.received = bytearray()
        self._answer = answer
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self.received += data
                if self._answer:
                    conn.sendall(b"$-1\r\n" * data.count(b"*"))  # nil to every command

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener(answer=True)
    yield server
    server.close()


@pytest.fixture
def silent_listener() -> Iterator[Listener]:
    server = Listener(answer=False)
    yield server
    server.close()


def test_credential_is_not_sent_to_an_event_named_redis(
    redis_url: str, topic: str, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSUMER_TOKEN", "hunter2-consumer-secret")
    monkeypatch.setenv("PROXYFLOW_REDIS_PASSWORD", "hunter3-default-secret")
    options = {"url": f"redis://127.0.0.1:{listener.port}/0", "password_env": "CONSUMER_TOKEN"}
    publish(redis_url, topic, key_event(topic, StoreConfig("r", "redis", options)))
    with consumer(redis_url, topic, on_decode_error="skip") as reader:
        assert list(reader) == []
        assert reader.stats.untrusted == 1
    assert listener.connections == 0
    assert b"hunter" not in listener.received


def test_trusted_redis_gets_no_credential_the_event_names(
    redis_url: str, topic: str, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server is trusted, but the password variable named by the event is not read."""
    monkeypatch.setenv("CONSUMER_TOKEN", "hunter2-consumer-secret")
    monkeypatch.delenv("PROXYFLOW_REDIS_PASSWORD", raising=False)
    url = f"redis://127.0.0.1:{listener.port}/0"
    options = {"url": url, "password_env": "CONSUMER_TOKEN"}
    publish(redis_url, topic, key_event(topic, StoreConfig("r", "redis", options)))
    with consumer(redis_url, topic, trusted_locations=[url]) as reader:
        proxy = reader.next()
        assert "password_env" not in get_store(proxy).config().options  # type: ignore[union-attr]
        with pytest.raises(ProxyResolveError) as caught:
            str(proxy)  # resolving asks the listener, which has nothing under the key
        assert isinstance(caught.value.__cause__, ObjectMissingError)
    assert listener.connections >= 1
    assert b"GET" in listener.received  # it did talk to the trusted server...
    assert b"hunter2" not in listener.received  # ...without the event's credential
    assert b"AUTH" not in listener.received


def test_event_chosen_timeout_is_ignored(
    redis_url: str, topic: str, silent_listener: Listener
) -> None:
    url = f"redis://127.0.0.1:{silent_listener.port}/0?socket_timeout=3600"
    options = {"url": url, "socket_timeout": 3600.0, "connect_timeout": 3600.0}
    publish(redis_url, topic, key_event(topic, StoreConfig("slow", "redis", options)))
    server = f"redis://127.0.0.1:{silent_listener.port}/0"
    trusted = TrustedLocation(server, {"socket_timeout": 0.2})
    with consumer(redis_url, topic, trusted_locations=[trusted]) as reader:
        proxy = reader.next()
        store = get_store(proxy)
        assert store is not None
        options_used = store.config().options
        assert options_used["socket_timeout"] == 0.2
        assert "connect_timeout" not in options_used  # the connector's default
        assert "socket_timeout" not in options_used["url"]
        with pytest.raises(Exception) as caught:
            store.get(KEY)
        assert isinstance(caught.value, TimeoutError)  # the consumer's 0.2 s, not an hour


def test_trusted_directory_from_the_environment(
    redis_url: str, topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = tmp_path / "objects"
    with Store("writer", FileConnector(objects)) as writer:  # another process, in effect
        key = writer.put({"answer": 42})
    config = StoreConfig("writer", "file", {"store_dir": str(objects)})
    event = NewObjectKeyEvent(ATTACKER, topic, 0, encode_store_config(config), key, True)
    publish(redis_url, topic, encode_event(event))
    monkeypatch.setenv("PROXYFLOW_TRUSTED_LOCATIONS", f"redis://10.9.9.9:6379/0, file:{tmp_path}")
    with consumer(redis_url, topic) as reader:
        assert list(reader.iter_objects()) == [{"answer": 42}]
    assert not (objects / key).exists()  # evicted, as its event asked


def test_stores_of_a_producer_in_this_process_are_trusted(
    redis_url: str, topic: str, tmp_path: Path
) -> None:
    store = Store("mine", FileConnector(tmp_path / "mine"))
    with StreamProducer(RedisQueuePublisher(redis_url), default_store=store) as producer:
        for i in range(3):
            producer.send(topic, i)
        producer.close_topics(topic)
    with StreamConsumer(RedisQueueSubscriber(redis_url, [topic]), timeout=10) as reader:
        assert list(reader.iter_objects()) == [0, 1, 2]
