"""The private redis-server used by every test suite."""

from __future__ import annotations

import socket

import pytest

from proxyflow.testing.redis_server import (
    RedisServer,
    RedisServerUnavailableError,
    find_redis_server,
)


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16)


def test_server_starts_answers_and_stops() -> None:
    if find_redis_server() is None:
        pytest.skip("no redis-server binary on this machine")
    with RedisServer() as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert _ping(server.port).startswith(b"+PONG")
        port = server.port
    with pytest.raises(OSError):
        _ping(port)


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proxyflow.testing.redis_server.find_redis_server", lambda: None)
    with pytest.raises(RedisServerUnavailableError, match="PROXYFLOW_REDIS_URL"):
        RedisServer().start()


def test_redis_url_fixture_points_at_a_live_server(redis_url: str) -> None:
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    assert host in {"127.0.0.1", "localhost"}
    assert _ping(int(port)).startswith(b"+PONG")


def test_a_binary_that_cannot_run_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(RedisServerUnavailableError, match="cannot run"):
        RedisServer(str(tmp_path / "no-such-redis-server")).start()


def test_kill_and_restart_keep_the_port_and_lose_the_data() -> None:
    if find_redis_server() is None:
        pytest.skip("no redis-server binary on this machine")
    with RedisServer() as server:
        first = server.pid
        assert first is not None
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(b"SET k v\r\n")
            assert sock.recv(16) == b"+OK\r\n"
        server.kill()
        assert server.pid is None
        with pytest.raises(OSError):
            _ping(server.port)
        server.kill()  # a second kill does nothing
        server.restart()
        assert server.pid not in (None, first)
        assert _ping(server.port).startswith(b"+PONG")
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(b"EXISTS k\r\n")
            assert sock.recv(16) == b":0\r\n"
        server.restart()  # restarting a running server kills it first
        assert _ping(server.port).startswith(b"+PONG")


def test_a_persistent_server_keeps_acknowledged_writes_across_a_kill() -> None:
    if find_redis_server() is None:
        pytest.skip("no redis-server binary on this machine")
    with RedisServer(persistent=True) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(b"SET k v\r\n")
            assert sock.recv(16) == b"+OK\r\n"
        server.kill()
        server.restart()
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(b"EXISTS k\r\n")
            assert sock.recv(16) == b":1\r\n"


def test_a_paused_server_answers_again_after_resume() -> None:
    if find_redis_server() is None:
        pytest.skip("no redis-server binary on this machine")
    with RedisServer() as server:
        server.pause()
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.settimeout(0.3)
            sock.sendall(b"PING\r\n")
            with pytest.raises(TimeoutError):
                sock.recv(16)
            server.resume()
            sock.settimeout(5)
            assert sock.recv(16).startswith(b"+PONG")


def test_the_redis_server_fixture_keeps_its_data_across_a_kill(redis_server: RedisServer) -> None:
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=2) as sock:
        sock.sendall(b"SET k v\r\n")
        assert sock.recv(16) == b"+OK\r\n"
    redis_server.kill()
    redis_server.restart()
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=2) as sock:
        sock.sendall(b"GET k\r\n")
        assert sock.recv(16) == b"$1\r\nv\r\n"
