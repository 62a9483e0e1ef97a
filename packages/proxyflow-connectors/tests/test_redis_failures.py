"""Every failure of a Redis server is a typed error that says what to do; writes are all or nothing.

The tests use real servers of their own (never the session's shared one): a
private ``redis-server`` whose ``maxmemory``, ``proto-max-bulk-len``, password or
ACL users they change, a plain TCP server that does not speak Redis, a port
nobody listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from proxyflow.api import (
    BackendAuthenticationError,
    BackendFullError,
    BackendProtocolError,
    BackendUnavailableError,
    ObjectTooLargeError,
)
from proxyflow.connectors import (
    ConnectorAuthenticationError,
    ConnectorConnectionError,
    ConnectorError,
    ConnectorFullError,
    ConnectorObjectTooLargeError,
    ConnectorProtocolError,
    InvalidConfigError,
    RedisConnector,
)
from proxyflow.testing import ConnectorContract
from proxyflow.testing.redis_server import RedisServer, RedisServerUnavailableError

redis = pytest.importorskip("redis")


def _start() -> RedisServer:
    try:
        return RedisServer().start()
    except RedisServerUnavailableError as exc:
        if os.environ.get("PROXYFLOW_REQUIRE_REDIS"):
            raise
        pytest.skip(f"no redis-server: {exc}")


@pytest.fixture(scope="module")
def shared_private() -> Iterator[RedisServer]:
    """A private server for this module's tests that leave its settings as they found them."""
    server = _start()
    yield server
    server.stop()


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private server for one test, which may change anything."""
    server = _start()
    yield server
    server.stop()


def _admin(server: RedisServer, password: str | None = None) -> Any:
    return redis.Redis.from_url(server.url, password=password)


def _prefix() -> str:
    return f"fail-{uuid.uuid4().hex[:10]}:"


def _keys(admin: Any, prefix: str) -> list[bytes]:
    return list(admin.scan_iter(match=prefix + "*"))


@contextlib.contextmanager
def maxmemory_after(connector: RedisConnector, count: int, size: int) -> Iterator[None]:
    """Set ``maxmemory`` so that about ``count`` more values of ``size`` bytes fit.

    ``count == 0`` sets a limit of one byte: every write is refused. Otherwise
    the connector first writes and removes one value of ``size`` bytes, so
    that its connection holds the read buffer such a write leaves behind;
    then a second client fills the server with values of that size (keys
    outside the connector's prefix) until it refuses one, and ``count`` of
    them are deleted again: the room left is what ``count`` values take, as
    the server counts them. The filling client stays connected until the
    block ends, as its buffers count too. Computing the room from the growth
    of ``used_memory`` after one probe value proved unreliable both ways: the
    probe also paid for the key table doubling (64 KiB at 4096 keys) or for
    a client's read buffer, and a batch of 6 fitted into a room of 3, or
    nothing into a room of 2.
    """
    admin = _admin_of(connector)
    fillers = _FILLERS + connector.prefix
    pool = admin.connection_pool
    filler = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **pool.connection_kwargs
        )
    )
    try:
        if count == 0:
            admin.config_set("maxmemory", 1)
        else:
            connector.get(connector.put(os.urandom(size)), evict=True)
            _fill_leaving_room(admin, filler, fillers, count, size)
        yield
    finally:
        admin.config_set("maxmemory", 0)
        for key in admin.scan_iter(match=fillers + "*"):
            admin.delete(key)
        filler.connection_pool.disconnect()


_FILLERS = "maxmemory-filler:"


def _fill_leaving_room(admin: Any, filler: Any, prefix: str, count: int, size: int) -> None:
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", used + 4 * (count + 4) * size)
    payload = os.urandom(size)
    keys: list[str] = []
    for index in range(8 * (count + 4)):
        try:
            filler.set(f"{prefix}{index}", payload)
        except redis.exceptions.OutOfMemoryError:
            break
        keys.append(f"{prefix}{index}")
    else:
        raise AssertionError("the server never refused a write")
    assert len(keys) > count, f"only {len(keys)} values fitted below the limit"
    admin.delete(*keys[-count:])


def _set_stats(admin: Any) -> tuple[int, int]:
    stats = admin.info("commandstats").get("cmdstat_set", {})
    return int(stats.get("calls", 0)), int(stats.get("rejected_calls", 0))


class TestRedisConnectorContract(ConnectorContract):
    """The connector contract on a private server, whose maxmemory the batch tests lower."""

    @pytest.fixture
    def connector(self, shared_private: RedisServer) -> Iterator[RedisConnector]:
        connector = RedisConnector(shared_private.url, prefix=_prefix())
        yield connector
        connector.close()

    def fail_writes_after(
        self, connector: Any, count: int, size: int
    ) -> contextlib.AbstractContextManager[None]:
        return maxmemory_after(connector, count, size)

    def stored_objects(self, connector: Any) -> int:
        return len(_keys(_admin_of(connector), connector.prefix))


def _admin_of(connector: RedisConnector) -> Any:
    return redis.Redis(connection_pool=connector._pool)


# -- store full -------------------------------------------------------------------------


def test_maxmemory_is_a_full_error_and_a_partial_batch_is_rolled_back(
    shared_private: RedisServer,
) -> None:
    admin, prefix = _admin(shared_private), _prefix()
    connector = RedisConnector(shared_private.url, prefix=prefix)
    size = 256 * 1024
    with maxmemory_after(connector, 2, size):
        calls_before, rejected_before = _set_stats(admin)
        with pytest.raises(ConnectorFullError) as info:
            connector.put_batch([os.urandom(size) for _ in range(6)])
        calls_after, rejected_after = _set_stats(admin)
        assert _keys(admin, prefix) == []  # the SETs that succeeded were undone
    assert isinstance(info.value, BackendFullError)
    assert "maxmemory" in str(info.value)
    assert shared_private.url in str(info.value)
    assert info.value.leftover_keys == ()
    # Some of the batch's SETs ran before the server refused the rest.
    assert calls_after - calls_before >= 1
    assert rejected_after > rejected_before
    key = connector.put(b"room again")
    assert connector.get(key, evict=True) == b"room again"


def test_a_store_lets_the_connector_error_through_unchanged(shared_private: RedisServer) -> None:
    from proxyflow.store import Store

    admin, prefix = _admin(shared_private), _prefix()
    connector = RedisConnector(shared_private.url, prefix=prefix)
    with Store(f"full-{prefix}", connector) as store:
        with maxmemory_after(connector, 0, 64 * 1024):
            with pytest.raises(ConnectorFullError):
                store.put(os.urandom(64 * 1024))
            with pytest.raises(ConnectorFullError):
                store.proxy_batch([os.urandom(64 * 1024), [bytes(100_000)], "text"])
        assert _keys(admin, prefix) == []


def test_keys_that_cannot_be_removed_are_named(
    shared_private: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, prefix = _admin(shared_private), _prefix()
    connector = RedisConnector(shared_private.url, prefix=prefix)

    def no_delete(*args: Any) -> Any:
        raise redis.exceptions.ConnectionError("the server went away")

    with maxmemory_after(connector, 2, 256 * 1024):
        monkeypatch.setattr(connector._client, "execute_command", no_delete)
        with pytest.raises(ConnectorFullError) as info:
            connector.put_batch([os.urandom(256 * 1024) for _ in range(6)])
        stored = sorted(key.decode().removeprefix(prefix) for key in _keys(admin, prefix))
    assert stored
    assert sorted(info.value.leftover_keys) == stored
    assert all(key in str(info.value) for key in stored)
    for key in stored:
        admin.delete(prefix + key)


# -- object too large -------------------------------------------------------------------


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 24 * 1024 * 1024], ids=["2MiB", "24MiB"])
def test_a_value_over_proto_max_bulk_len_is_object_too_large(
    server: RedisServer, size: int
) -> None:
    # 1mb is the smallest limit Redis allows: the server refuses the value, replying
    # an error (small overshoot) or dropping the connection while it is sent (large).
    admin, prefix = _admin(server), _prefix()
    admin.config_set("proto-max-bulk-len", "1mb")
    connector = RedisConnector(server.url, prefix=prefix)
    with pytest.raises(ConnectorObjectTooLargeError) as info:
        connector.put(bytes(size))
    assert isinstance(info.value, ObjectTooLargeError)
    assert isinstance(info.value, ValueError)
    assert f"{size} bytes" in str(info.value)
    assert "proto-max-bulk-len" in str(info.value)
    with pytest.raises(ConnectorObjectTooLargeError):
        connector.put_batch([b"small", bytes(size)])
    with pytest.raises(ConnectorObjectTooLargeError):
        connector.put_parts([b"head", bytes(size)])
    assert _keys(admin, prefix) == []
    key = connector.put(b"small values still go")
    assert connector.get(key) == b"small values still go"


# -- credentials ------------------------------------------------------------------------


def test_a_missing_password_names_the_setting(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROXYFLOW_REDIS_PASSWORD", raising=False)
    _admin(server).config_set("requirepass", "s3cret")
    for connector, variable in (
        (RedisConnector(server.url), "PROXYFLOW_REDIS_PASSWORD"),
        (RedisConnector(server.url, password_env="MY_REDIS_PW"), "MY_REDIS_PW"),
    ):
        for action in (lambda c: c.put(b"x"), lambda c: c.get("0" * 20), lambda c: c.exists("0")):
            with pytest.raises(ConnectorAuthenticationError) as info:
                action(connector)
            assert isinstance(info.value, BackendAuthenticationError)
            assert isinstance(info.value, PermissionError)
            assert "requires a password" in str(info.value)
            assert variable in str(info.value)
            assert "unreachable" not in str(info.value)
    monkeypatch.setenv("MY_REDIS_PW", "s3cret")
    connector = RedisConnector(server.url, password_env="MY_REDIS_PW")
    assert connector.get(connector.put(b"let in"), evict=True) == b"let in"


def test_a_wrong_password_is_refused(server: RedisServer) -> None:
    _admin(server).config_set("requirepass", "s3cret")
    url = server.url.replace("redis://", "redis://:wrong@")
    with pytest.raises(ConnectorAuthenticationError, match="refused the user name or password"):
        RedisConnector(url).put(b"x")


def test_get_async_errors_are_typed(server: RedisServer) -> None:
    _admin(server).config_set("requirepass", "s3cret")
    wrong = RedisConnector(server.url.replace("redis://", "redis://:wrong@"))
    unreachable = RedisConnector("redis://127.0.0.1:1/0", connect_timeout=2)

    async def read(connector: RedisConnector) -> Any:
        return await asyncio.wait_for(connector.get_async("0" * 20, evict=True), 10)

    with pytest.raises(ConnectorAuthenticationError, match="refused the user name or password"):
        asyncio.run(read(wrong))
    with pytest.raises(ConnectorConnectionError, match="unreachable"):
        asyncio.run(read(unreachable))
    right = RedisConnector(server.url.replace("redis://", "redis://:s3cret@"))
    key = right.put(b"async")
    assert asyncio.run(read_key(right, key)) == (b"async", None)
    for connector in (wrong, unreachable, right):
        connector.close()


def test_a_cancelled_get_async_leaves_no_reply_behind(server: RedisServer) -> None:
    connector = RedisConnector(server.url, prefix=_prefix())
    first, second = connector.put(b"first"), connector.put(b"second")
    admin = _admin(server)

    async def body() -> Any:
        # One connection only: the next read reuses the one the cancelled read used.
        await connector.get_async(second)
        admin.execute_command("CLIENT", "PAUSE", 300, "ALL")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(connector.get_async(first), 0.05)
        return await asyncio.wait_for(connector.get_async(second), 10)

    try:
        assert asyncio.run(body()) == b"second"  # never the cancelled read's b"first"
    finally:
        connector.close()


async def read_key(connector: RedisConnector, key: str) -> tuple[Any, Any]:
    first = await connector.get_async(key, evict=True)
    return first, await connector.get_async(key)


def test_a_password_for_a_server_without_one_is_an_authentication_error(
    server: RedisServer,
) -> None:
    url = server.url.replace("redis://", "redis://:needless@")
    with pytest.raises(ConnectorAuthenticationError, match="has none configured"):
        RedisConnector(url).get("0" * 20)


def test_an_acl_denial_names_the_keys(server: RedisServer) -> None:
    _admin(server).execute_command("ACL", "SETUSER", "reader", "on", ">pw", "~other:*", "+@all")
    connector = RedisConnector(server.url.replace("redis://", "redis://reader:pw@"))
    with pytest.raises(ConnectorAuthenticationError, match=r"proxyflow:\*"):
        connector.put(b"x")


# -- wrong server or database -----------------------------------------------------------


def test_a_missing_database_is_a_protocol_error(shared_private: RedisServer) -> None:
    url = shared_private.url.rsplit("/", 1)[0] + "/99"
    with pytest.raises(ConnectorProtocolError, match="no database 99") as info:
        RedisConnector(url).put(b"x")
    assert isinstance(info.value, BackendProtocolError)


@contextlib.contextmanager
def not_redis() -> Iterator[int]:
    """A TCP server on a free port that answers every connection like a web server."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("parser", ["python", "hiredis"])
def test_a_server_that_is_not_redis_is_a_protocol_error(parser: str) -> None:
    if parser == "hiredis":
        pytest.importorskip("hiredis")
    with not_redis() as port:
        connector = RedisConnector(
            f"redis://127.0.0.1:{port}/0", parser=parser, connect_timeout=2, socket_timeout=2
        )  # type: ignore[arg-type]
        with pytest.raises(ConnectorProtocolError, match="does not speak the Redis protocol"):
            connector.put(b"x")


# -- unreachable ------------------------------------------------------------------------


def test_every_method_of_an_unreachable_server_is_typed() -> None:
    connector = RedisConnector("redis://127.0.0.1:1/0", connect_timeout=0.5)
    key = "0" * 20
    for action in (
        lambda: connector.put(b"x"),
        lambda: connector.put_parts([b"x"]),
        lambda: connector.put_batch([b"x", b"y"]),
        lambda: connector.get(key),
        lambda: connector.get(key, evict=True),
        lambda: connector.get_batch([key]),
        lambda: connector.get_batch([key], evict=True),
        lambda: connector.exists(key),
        lambda: connector.evict(key),
    ):
        with pytest.raises(ConnectorConnectionError) as info:
            action()
        assert isinstance(info.value, BackendUnavailableError)
        assert isinstance(info.value, ConnectorError)
        assert not isinstance(info.value, redis.exceptions.RedisError)


# -- ProxyStore's form ------------------------------------------------------------------


def test_proxystore_hostname_and_port(shared_private: RedisServer) -> None:
    connector = RedisConnector("127.0.0.1", shared_private.port)
    assert connector.hostname == "127.0.0.1"
    assert connector.port == shared_private.port
    assert connector.get(connector.put(b"same server"), evict=True) == b"same server"
    by_name = RedisConnector(hostname="127.0.0.1", port=shared_private.port, clear=False)
    assert by_name.config() == connector.config()
    with pytest.raises(InvalidConfigError, match="FLUSHDB"):
        RedisConnector("127.0.0.1", shared_private.port, clear=True)
    with pytest.raises(InvalidConfigError, match="host name"):
        RedisConnector("redis://127.0.0.1:6379/0", 6379)


def test_config_splits_into_location_and_client_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PW", "s3cret")
    connector = RedisConnector(
        "redis://u:pw@h:1/2",
        prefix="p:",
        socket_timeout=1.0,
        connect_timeout=2.0,
        password_env="SOME_PW",
    )
    config = connector.config()
    assert set(config) == RedisConnector.location_options | RedisConnector.client_options
    assert not RedisConnector.location_options & RedisConnector.client_options
    assert "password_env" in RedisConnector.client_options
    assert "pw" not in str(config)
    assert "s3cret" not in str(config)
