"""Every server failure is a typed error with an actionable message; none of redis-py's escapes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from proxyflow.api import (
    BackendAuthenticationError,
    BackendFullError,
    BackendProtocolError,
    BackendUnavailableError,
)
from proxyflow.shims.redis import (
    BrokerAuthenticationError,
    BrokerConnectionError,
    BrokerFullError,
    BrokerProtocolError,
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisShimError,
    RedisSubscriber,
    SubscriberClosedError,
)
from proxyflow.testing.redis_server import RedisServer, RedisServerUnavailableError

FAST = {"socket_timeout": 1.0, "connect_timeout": 1.0}

CONSTRUCTORS: dict[str, Callable[[str], Any]] = {
    "RedisPublisher": lambda url: RedisPublisher(url, **FAST),
    "RedisSubscriber": lambda url: RedisSubscriber(url, "t", **FAST),
    "RedisQueuePublisher": lambda url: RedisQueuePublisher(url, **FAST),
    "RedisQueueSubscriber": lambda url: RedisQueueSubscriber(url, "t", **FAST),
}


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private server of this test, whose settings the test may change."""
    private = RedisServer()
    try:
        private.start()
    except RedisServerUnavailableError as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield private
    private.stop()


def admin_of(server: RedisServer, password: str | None = None) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, password=password, protocol=2)


def url_of(server: RedisServer, userinfo: str = "", db: int = 0) -> str:
    return f"redis://{userinfo}127.0.0.1:{server.port}/{db}"


class Listener:
    """A TCP server on loopback that is not Redis: it answers ``reply`` (or nothing)."""

    def __init__(self, reply: bytes) -> None:
        self._reply = reply
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            self._clients.append(client)
            if self._reply:
                with contextlib.suppress(OSError):
                    client.sendall(self._reply)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
        self._socket.close()
        for client in self._clients:
            client.close()
        self._thread.join(5)


@pytest.mark.parametrize("make", sorted(CONSTRUCTORS))
def test_a_missing_password_names_the_setting(server: RedisServer, make: str) -> None:
    admin_of(server).config_set("requirepass", "s3cret")
    with pytest.raises(BrokerAuthenticationError) as caught:
        CONSTRUCTORS[make](url_of(server))
    error = caught.value
    assert isinstance(error, BackendAuthenticationError)
    assert isinstance(error, PermissionError)
    assert not isinstance(error, ConnectionError), "not 'unreachable'"
    assert "requires a password" in str(error)
    assert "redis://[USER]:PASSWORD@host:port/db" in str(error)


@pytest.mark.parametrize("make", sorted(CONSTRUCTORS))
def test_a_wrong_password_is_refused_and_not_shown(server: RedisServer, make: str) -> None:
    admin_of(server).config_set("requirepass", "s3cret")
    with pytest.raises(BrokerAuthenticationError, match="refused the user name or password") as c:
        CONSTRUCTORS[make](url_of(server, ":wrong-secret@"))
    assert "wrong-secret" not in str(c.value)
    assert ":***@" in c.value.url


def test_a_password_for_a_server_without_one_is_named(server: RedisServer) -> None:
    with pytest.raises(BrokerAuthenticationError, match="no password set"):
        RedisPublisher(url_of(server, ":extra@"), **FAST)


@pytest.mark.parametrize("make", sorted(CONSTRUCTORS))
def test_a_missing_database_is_a_protocol_error(server: RedisServer, make: str) -> None:
    with pytest.raises(BrokerProtocolError, match="no database") as caught:
        CONSTRUCTORS[make](url_of(server, db=99))
    assert isinstance(caught.value, BackendProtocolError)
    assert "'databases'" in str(caught.value)


@pytest.mark.parametrize("make", sorted(CONSTRUCTORS))
def test_a_server_that_is_not_redis_is_a_protocol_error(make: str) -> None:
    listener = Listener(b"SSH-2.0-OpenSSH_9.6\r\n")
    try:
        with pytest.raises(BrokerProtocolError, match="is not a Redis server") as caught:
            CONSTRUCTORS[make](f"redis://:pw@127.0.0.1:{listener.port}/0")
        assert "check the host and port" in str(caught.value)
        assert "pw@" not in str(caught.value)
    finally:
        listener.close()


def test_a_server_that_never_answers_is_unavailable() -> None:
    listener = Listener(b"")
    try:
        with pytest.raises(BrokerConnectionError, match="no answer within socket_timeout"):
            RedisQueuePublisher(f"redis://127.0.0.1:{listener.port}/0", **FAST)
    finally:
        listener.close()


@pytest.mark.parametrize("make", sorted(CONSTRUCTORS))
def test_an_unreachable_server_is_unavailable(make: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrokerConnectionError) as caught:
        CONSTRUCTORS[make](f"redis://127.0.0.1:{port}/0")
    assert isinstance(caught.value, BackendUnavailableError)


@pytest.fixture
def full(server: RedisServer) -> Iterator[redis.Redis]:
    """The private server with ``maxmemory`` just above what it uses now."""
    admin = admin_of(server)
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", used + 512 * 1024)
    yield admin
    admin.config_set("maxmemory", 0)
    admin.close()


def fill(send: Callable[[bytes], object]) -> None:
    """Send 100 KiB messages until one fails (at most 100: 10 MiB)."""
    for _ in range(100):
        send(bytes(100 * 1024))


def test_maxmemory_on_push_is_a_full_error(server: RedisServer, full: redis.Redis) -> None:
    with RedisQueuePublisher(url_of(server)) as publisher:
        publisher.join("t", b"early")
        with pytest.raises(BrokerFullError, match="maxmemory") as caught:
            fill(lambda m: publisher.send_message("t", m))
        assert isinstance(caught.value, BackendFullError)
        assert full.llen("proxyflow:queue:t") > 0
        full.config_set("maxmemory", 1)  # no room at all, whatever the command's size
        with pytest.raises(BrokerFullError):
            publisher.join("t", b"late")  # the roster is refused too
        full.config_set("maxmemory", 0)
        publisher.send_message("t", b"fits again")  # the publisher stays usable
        publisher.join("t", b"late")


def test_maxmemory_with_pipelined_pushes_surfaces_by_flush(
    server: RedisServer, full: redis.Redis
) -> None:
    publisher = RedisQueuePublisher(url_of(server), max_unconfirmed=1000)
    with pytest.raises(BrokerFullError, match="'t'"):  # noqa: PT012
        fill(lambda m: publisher.send_message("t", m))
        publisher.flush()
    publisher.close()


def oom_refusals(client: redis.Redis) -> int:
    """How many commands the server refused for lack of memory so far (``INFO errorstats``)."""
    stats = client.info("errorstats")
    return int(stats.get("errorstat_OOM", {}).get("count", 0))


def test_leave_records_nothing_when_a_message_was_refused(
    server: RedisServer, full: redis.Redis
) -> None:
    publisher = RedisQueuePublisher(url_of(server), max_unconfirmed=1000)
    publisher.join("t", b"p")
    refusals = oom_refusals(full)
    full.config_set("maxmemory", 1)  # no room at all
    try:
        publisher.send_message("t", b"refused")  # its reply may be read now or by leave()
        refusal_seen_by_send = False
    except BrokerFullError:
        refusal_seen_by_send = True
    # The pipelined push may still be on its way: make room only once Redis refused it.
    deadline = time.monotonic() + 10
    while oom_refusals(full) == refusals:
        assert time.monotonic() < deadline, "Redis never refused the push"
        full.ping()  # a round trip on the other connection while we wait
    full.config_set("maxmemory", 0)  # room again: leave() itself can be stored
    try:
        publisher.leave("t", b"p")
        left = True
    except BrokerFullError:
        left = False
    with RedisQueueSubscriber(url_of(server), "t") as subscriber:
        roster = subscriber.roster("t")
    assert roster.joined == {b"p"}
    assert (b"p" in roster.left) == left
    # Reported once: by the send, or else by leave(), which then records nothing.
    assert left == refusal_seen_by_send
    publisher.close()


def test_an_acl_denial_names_acl_setuser(server: RedisServer) -> None:
    admin = admin_of(server)
    admin.acl_setuser(
        "reader", enabled=True, passwords=["+pw"], commands=["+ping", "+hkeys"], keys=["*"]
    )
    url = url_of(server, "reader:pw@")
    with pytest.raises(BrokerAuthenticationError, match="ACL SETUSER"):
        RedisQueuePublisher(url, **FAST).send_message("t", b"x")
    with RedisQueueSubscriber(url, "t", **FAST) as subscriber:
        with pytest.raises(BrokerAuthenticationError, match="may not"):
            subscriber.next_message(timeout=1)
        assert subscriber.roster("t").joined == frozenset()  # HKEYS is allowed
    with pytest.raises(BrokerAuthenticationError):
        RedisSubscriber(url, "t", **FAST)


def test_a_key_of_another_type_is_a_protocol_error_for_readers(server: RedisServer) -> None:
    admin = admin_of(server)
    admin.set("proxyflow:queue:t", b"a string")
    admin.set("proxyflow:roster:proxyflow:queue:t", b"a string")
    with RedisQueueSubscriber(url_of(server), "t", **FAST) as subscriber:
        with pytest.raises(BrokerProtocolError, match="WRONGTYPE"):
            subscriber.next_message(timeout=1)
        with pytest.raises(BrokerProtocolError, match="WRONGTYPE"):
            subscriber.roster("t")
        admin.delete("proxyflow:queue:t")
        admin.rpush("proxyflow:queue:t", b"fixed")
        assert subscriber.next_message(timeout=1) == b"fixed"  # not a lasting failure


def _every_public_call(url: str) -> dict[str, Callable[[], object]]:
    """Objects built while the server runs, and every public call on them."""
    queue_publisher = RedisQueuePublisher(url, **FAST)
    pubsub_publisher = RedisPublisher(url, **FAST)
    queue_subscriber = RedisQueueSubscriber(url, "t", **FAST)
    subscriber = RedisSubscriber(url, "t", reconnect_timeout=0, **FAST)
    return {
        "RedisPublisher.send_message": lambda: pubsub_publisher.send_message("t", b"x"),
        "RedisPublisher.flush": pubsub_publisher.flush,
        "RedisPublisher.close": pubsub_publisher.close,
        "RedisQueuePublisher.send_message": lambda: queue_publisher.send_message("t", b"x"),
        "RedisQueuePublisher.join": lambda: queue_publisher.join("t", b"p"),
        "RedisQueuePublisher.leave": lambda: queue_publisher.leave("t", b"p"),
        "RedisQueuePublisher.clear_roster": lambda: queue_publisher.clear_roster("t"),
        "RedisQueuePublisher.flush": queue_publisher.flush,
        "RedisQueuePublisher.close": queue_publisher.close,
        "RedisQueueSubscriber.next_message": lambda: queue_subscriber.next_message(timeout=1),
        "RedisQueueSubscriber.roster": lambda: queue_subscriber.roster("t"),
        "RedisQueueSubscriber.iteration": lambda: next(iter(queue_subscriber)),
        "RedisQueueSubscriber.close": queue_subscriber.close,
        "RedisSubscriber.next_message": lambda: subscriber.next_message(timeout=1),
        "RedisSubscriber.iteration": lambda: next(iter(subscriber)),
        "RedisSubscriber.close": subscriber.close,
    }


def test_no_redis_error_escapes_any_public_call_of_a_dead_server(server: RedisServer) -> None:
    calls = _every_public_call(server.url)
    server.kill()
    escaped = {}
    for name, call in calls.items():
        for _ in range(2):  # the call that meets the loss, and the one after
            try:
                call()
            except (RedisShimError, StopIteration):
                pass  # StopIteration: iteration of a closed subscriber
            except BaseException as exc:
                escaped[name] = repr(exc)
    assert not escaped, f"raw errors escaped: {escaped}"


def test_a_closed_queue_subscriber_refuses_roster_reads(redis_url: str) -> None:
    subscriber = RedisQueueSubscriber(redis_url, "t")
    subscriber.close()
    with pytest.raises(SubscriberClosedError):
        subscriber.roster("t")
