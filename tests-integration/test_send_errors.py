"""Every store failure reaches the caller of `send()` as a typed error that says what to do.

A real ``redis-server`` of the test's own is made to fail in each way (full,
too small a value limit, a password, too few databases), and two addresses
that are not Redis servers stand in for the rest. Without batching
``send()`` raises the connector's typed error; with batching the
``BatchSendError`` carries it for each object (and as ``__cause__``).
"""

from __future__ import annotations

import queue
import socket
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from proxyflow.api import (
    BackendAuthenticationError,
    BackendError,
    BackendFullError,
    BackendProtocolError,
    BackendUnavailableError,
    ObjectTooLargeError,
)
from proxyflow.connectors.redis import RedisConnector
from proxyflow.shims.queue import QueuePublisher
from proxyflow.store import Store
from proxyflow.stream import BatchSendError, StreamProducer
from proxyflow.testing.redis_server import RedisServer, RedisServerUnavailableError


@pytest.fixture
def server() -> Iterator[RedisServer]:
    private = RedisServer()
    try:
        private.start()
    except RedisServerUnavailableError as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield private
    private.stop()


@pytest.fixture
def not_redis() -> Iterator[str]:
    """A TCP server that answers every connection with an HTTP error, not RESP."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    listener.close()
    thread.join(5)


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def _full(server: RedisServer) -> tuple[str, bytes]:
    admin = redis.Redis.from_url(server.url)
    admin.config_set("maxmemory", int(admin.info("memory")["used_memory"]) + 64 * 1024)
    return server.url, bytes(256 * 1024)


def _too_large(server: RedisServer) -> tuple[str, bytes]:
    redis.Redis.from_url(server.url).config_set("proto-max-bulk-len", 1024 * 1024)
    return server.url, bytes(2 * 1024 * 1024)


def _password(server: RedisServer) -> tuple[str, bytes]:
    redis.Redis.from_url(server.url).config_set("requirepass", "s3cret")
    return server.url, b"x"


def _wrong_db(server: RedisServer) -> tuple[str, bytes]:
    return server.url.rsplit("/", 1)[0] + "/99", b"x"


CASES: dict[str, tuple[Callable[[RedisServer], tuple[str, bytes]], type[BackendError], str]] = {
    "full": (_full, BackendFullError, "maxmemory"),
    "too large": (_too_large, ObjectTooLargeError, "proto-max-bulk-len"),
    "password required": (_password, BackendAuthenticationError, "password"),
    "wrong database": (_wrong_db, BackendProtocolError, "database"),
}


def _send(url: str, obj: bytes, batch_size: int) -> BaseException:
    store = Store(f"errors-{uuid.uuid4().hex[:8]}", RedisConnector(url, connect_timeout=2))
    producer: StreamProducer[bytes] = StreamProducer(
        QueuePublisher({"t": queue.Queue()}),
        default_store=store,
        batch_size=batch_size,
    )
    try:
        for _ in range(batch_size):
            producer.send("t", obj)
    except BaseException as exc:  # the error under test
        return exc
    finally:
        store.close()
    raise AssertionError("send() reported success")


def _check(error: BaseException, batch_size: int, kind: type[BackendError], word: str) -> None:
    if batch_size > 1:
        assert isinstance(error, BatchSendError)
        assert len(error.failures) == batch_size
        assert all(isinstance(f.error, kind) for f in error.failures)
        error = error.failures[0].error
    assert isinstance(error, kind), repr(error)
    assert word in str(error).lower()


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("case", list(CASES))
def test_store_failures_are_typed_through_send(
    server: RedisServer, case: str, batch_size: int
) -> None:
    prepare, kind, word = CASES[case]
    url, obj = prepare(server)
    _check(_send(url, obj, batch_size), batch_size, kind, word)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_not_a_redis_server_is_typed_through_send(not_redis: str, batch_size: int) -> None:
    _check(_send(not_redis, b"x", batch_size), batch_size, BackendProtocolError, "protocol")


@pytest.mark.parametrize("batch_size", [1, 4])
def test_unreachable_store_is_typed_through_send(batch_size: int) -> None:
    error = _send(_closed_port(), b"x", batch_size)
    _check(error, batch_size, BackendUnavailableError, "unreachable")
