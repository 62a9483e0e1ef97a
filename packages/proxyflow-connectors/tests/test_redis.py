from __future__ import annotations

import array
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from proxyflow.api import BackendTimeoutError, BackendUnavailableError
from proxyflow.connectors import (
    ConnectorConnectionError,
    ConnectorProtocolError,
    ConnectorTimeoutError,
    InvalidConfigError,
    InvalidKeyError,
    MissingDependencyError,
    RedisConnector,
)
from proxyflow.store.protocols import Connector, CountingConnector, VectoredConnector

pytest.importorskip("redis")


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def connector(redis_url: str, prefix: str) -> Iterator[RedisConnector]:
    connector = RedisConnector(redis_url, prefix=prefix)
    yield connector
    connector.close()


def test_satisfies_the_protocol_but_does_not_count() -> None:
    connector = RedisConnector("redis://127.0.0.1:1/0")
    assert isinstance(connector, Connector)
    assert not isinstance(connector, CountingConnector)


def test_config_drops_the_password_without_connecting() -> None:
    # Port 1 refuses connections: construction succeeding shows it does no I/O.
    connector = RedisConnector("redis://user:secret@127.0.0.1:1/0?password=other&db=0")
    config = connector.config()
    dumped = json.dumps(config)
    assert "secret" not in dumped
    assert "other" not in dumped
    assert config["url"] == "redis://user@127.0.0.1:1/0?db=0"
    assert "secret" not in repr(connector)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:pw@host:6379/2", "redis://host:6379/2"),
        ("rediss://alice:pw@host/0", "rediss://alice@host/0"),
        ("unix://:pw@/run/redis.sock?db=1", "unix:///run/redis.sock?db=1"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_config_url_has_no_password(url: str, expected: str) -> None:
    assert RedisConnector(url).config()["url"] == expected


def test_password_from_environment_stays_out_of_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROXYFLOW_REDIS_PASSWORD", "from-default-env")
    monkeypatch.setenv("MY_REDIS_PASSWORD", "from-named-env")
    default = RedisConnector("redis://127.0.0.1:1/0")
    named = RedisConnector("redis://127.0.0.1:1/0", password_env="MY_REDIS_PASSWORD")
    assert default._pool.connection_kwargs["password"] == "from-default-env"
    assert named._pool.connection_kwargs["password"] == "from-named-env"
    assert "from-" not in json.dumps([default.config(), named.config()])
    assert named.config()["password_env"] == "MY_REDIS_PASSWORD"
    rebuilt = RedisConnector.from_config(named.config())
    assert rebuilt._pool.connection_kwargs["password"] == "from-named-env"


def test_url_password_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXYFLOW_REDIS_PASSWORD", "from-env")
    connector = RedisConnector("redis://:from-url@127.0.0.1:1/0")
    assert connector._pool.connection_kwargs["password"] == "from-url"


def test_unreachable_server_fails_fast_with_a_typed_error() -> None:
    connector = RedisConnector("redis://user:secret@127.0.0.1:1/0", connect_timeout=0.5)
    start = time.monotonic()
    with pytest.raises(ConnectorConnectionError) as info:
        connector.put(b"nowhere to go")
    assert time.monotonic() - start < 5
    assert isinstance(info.value, BackendUnavailableError)
    assert isinstance(info.value, ConnectionError)
    assert "redis://user:***@127.0.0.1:1/0" in str(info.value)
    assert "secret" not in str(info.value)
    assert info.value.leftover_keys == ()  # refused before anything was sent


def test_silent_server_times_out_instead_of_hanging() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts at the TCP level but never answers
        port = listener.getsockname()[1]
        connector = RedisConnector(
            f"redis://127.0.0.1:{port}/0", connect_timeout=0.5, socket_timeout=0.5
        )
        start = time.monotonic()
        with pytest.raises(ConnectorTimeoutError, match=str(port)) as info:
            connector.get("0" * 32)
        assert time.monotonic() - start < 5
        assert isinstance(info.value, BackendTimeoutError)
        assert "socket_timeout=0.5s" in str(info.value)
        connector.close()


def test_get_with_evict_removes_the_key(connector: RedisConnector) -> None:
    key = connector.put(b"read once")
    assert connector.get(key, evict=True) == b"read once"
    assert not connector.exists(key)


def test_keys_are_stored_under_the_prefix(connector: RedisConnector, prefix: str) -> None:
    key = connector.put(b"prefixed")
    assert connector._client.execute_command("GET", prefix + key) == b"prefixed"


def test_fallback_without_getdel(connector: RedisConnector) -> None:
    connector._getdel_supported = False  # as after an "unknown command" reply from Redis < 6.2
    keys = connector.put_batch([b"one", b"two", b"three"])
    assert connector.get(keys[0], evict=True) == b"one"
    assert connector.get_batch([keys[1], keys[0], keys[2]], evict=True) == [b"two", None, b"three"]
    assert not any(connector.exists(key) for key in keys)


def test_unknown_command_reply_switches_to_the_fallback(connector: RedisConnector) -> None:
    import redis

    connector._check_unknown_command(redis.exceptions.ResponseError("unknown command 'GETDEL'"))
    assert connector._getdel_supported is False
    other = redis.exceptions.ResponseError("WRONGTYPE")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        connector._check_unknown_command(other)


@pytest.mark.parametrize("parser", ["python", "hiredis"])
def test_explicit_parsers(redis_url: str, prefix: str, parser: str) -> None:
    if parser == "hiredis":
        pytest.importorskip("hiredis")
    from redis._parsers import _HiredisParser, _RESP2Parser

    connector = RedisConnector(redis_url, prefix=prefix, parser=parser)  # type: ignore[arg-type]
    expected = _RESP2Parser if parser == "python" else _HiredisParser
    assert connector._pool.connection_kwargs["parser_class"] is expected
    payload = bytes(range(256)) * 8192
    keys = connector.put_batch([payload, b""])
    assert connector.get_batch(keys) == [payload, b""]
    assert connector.get(keys[0], evict=True) == payload
    assert connector.get(keys[0]) is None
    connection = connector._pool.get_connection(*connector._connection_args)
    try:
        assert type(connection._parser) is expected
    finally:
        connector._pool.release(connection)
    connector.close()


def test_missing_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError, match=r"proxyflow-connectors\[redis\]") as info:
        RedisConnector()
    assert isinstance(info.value, ImportError)


def test_bad_url_and_options_are_typed_errors() -> None:
    with pytest.raises(InvalidConfigError, match="http://"):
        RedisConnector("http://127.0.0.1:6379")
    with pytest.raises(InvalidConfigError, match="parser"):
        RedisConnector(parser="fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="password"):
        RedisConnector.from_config({"url": "redis://127.0.0.1:1/0", "password": "x"})


@pytest.mark.parametrize("key", ["../x", "*", "a:b", "", 3])
def test_malformed_keys_are_rejected(connector: RedisConnector, key: object) -> None:
    with pytest.raises(InvalidKeyError):
        connector.get(key)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        connector.evict(key)  # type: ignore[arg-type]


def test_config_round_trip(redis_url: str, prefix: str) -> None:
    connector = RedisConnector(
        redis_url, prefix=prefix, socket_timeout=2.5, connect_timeout=1.5, password_env="X_PW"
    )
    config = connector.config()
    assert config == {
        "url": redis_url,
        "prefix": prefix,
        "socket_timeout": 2.5,
        "connect_timeout": 1.5,
        "password_env": "X_PW",
    }
    assert RedisConnector.from_config(config).config() == config


def test_satisfies_the_vectored_protocol() -> None:
    assert isinstance(RedisConnector("redis://127.0.0.1:1/0"), VectoredConnector)


@pytest.mark.parametrize("parser", ["python", "hiredis"])
def test_large_values_are_stored_whole_with_either_parser(
    redis_url: str, prefix: str, parser: str
) -> None:
    if parser == "hiredis":
        pytest.importorskip("hiredis")
    connector = RedisConnector(redis_url, prefix=prefix, parser=parser)  # type: ignore[arg-type]
    big = os.urandom(3 * 1024 * 1024 + 3)
    ints = array.array("q", range(100_000))
    values: list[Any] = [big, bytearray(big), memoryview(ints), b"small", b""]
    keys = [connector.put(value) for value in values]
    keys += connector.put_batch(values)
    parts_key = connector.put_parts([b"head", memoryview(big), bytearray(b"tail")])
    expected = [bytes(value) for value in values] * 2
    assert connector.get_batch(keys) == expected
    assert connector.get(parts_key, evict=True) == b"head" + big + b"tail"
    assert connector.get_batch(keys, evict=True) == expected
    assert not any(connector.exists(key) for key in [*keys, parts_key])
    connector.close()


def test_error_replies_leave_the_connection_usable(connector: RedisConnector, prefix: str) -> None:
    import redis

    connector._client.execute_command("RPUSH", prefix + "a-list", b"x")
    kept = connector.put_batch([b"one", b"two"])
    with pytest.raises(ConnectorProtocolError, match="WRONGTYPE") as info:
        connector.get("a-list", evict=True)
    assert isinstance(info.value.__cause__, redis.exceptions.ResponseError)
    with pytest.raises(ConnectorProtocolError, match="WRONGTYPE"):
        connector.get_batch([kept[0], "a-list", kept[1]], evict=True)
    # Every reply of the pipeline was read: the pooled connection is clean.
    for _ in range(3):
        key = connector.put(b"after the error")
        assert connector.get(key, evict=True) == b"after the error"
    assert connector._pool._in_use_connections == set()


def test_silent_server_times_out_on_a_large_put() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts at the TCP level but never reads nor answers
        port = listener.getsockname()[1]
        connector = RedisConnector(
            f"redis://127.0.0.1:{port}/0", connect_timeout=0.5, socket_timeout=0.5
        )
        start = time.monotonic()
        with pytest.raises(ConnectorTimeoutError, match=str(port)):
            connector.put_parts([b"x" * 100, bytearray(32 * 1024 * 1024)])
        assert time.monotonic() - start < 10
        connector.close()


@pytest.mark.parametrize(
    "config",
    [
        {"url": 7},
        {"url": "redis://127.0.0.1:1/0", "socket_timeout": [1]},
        {"url": "redis://127.0.0.1:1/0", "connect_timeout": True},
        {"url": "redis://127.0.0.1:1/0", "socket_timeout": -1},
        {"url": "redis://127.0.0.1:1/0", "connect_timeout": float("nan")},
        {"url": "redis://127.0.0.1:1/0", "prefix": None},
        {"url": "redis://127.0.0.1:1/0", "password_env": 3},
    ],
)
def test_ill_typed_configs_are_typed_errors(config: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigError):
        RedisConnector.from_config(config)


def test_get_async_reads_and_evicts_on_each_loop(connector: RedisConnector) -> None:
    import asyncio
    import warnings

    key = connector.put(b"value")

    async def read(evict: bool) -> bytes | None:
        return await asyncio.wait_for(connector.get_async(key, evict=evict), 10)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        assert asyncio.run(read(False)) == b"value"  # one loop, its own client
        assert asyncio.run(read(True)) == b"value"  # another loop, another client
        assert asyncio.run(read(False)) is None
    assert connector.get(key) is None
    with pytest.raises(InvalidKeyError):
        asyncio.run(connector.get_async("not a key!"))
    connector.close()
    connector.close()


def test_asyncio_run_closes_its_loops_client(connector: RedisConnector) -> None:
    import asyncio

    key = connector.put(b"v")

    async def read() -> tuple[bytes | None, Any]:
        value = await asyncio.wait_for(connector.get_async(key), 10)
        return value, connector._async.client()

    value, client = asyncio.run(read())
    assert value == b"v"
    pool = client.connection_pool
    connections = list(pool._available_connections) + list(pool._in_use_connections)
    assert connections  # the read opened one...
    assert not any(c.is_connected for c in connections)  # ...closed before the loop ended
