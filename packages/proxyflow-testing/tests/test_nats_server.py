"""The private nats-server used by the NATS shim's test suites."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from proxyflow.testing.nats_server import (
    NatsServer,
    NatsServerUnavailableError,
    find_nats_server,
)

needs_binary = pytest.mark.skipif(find_nats_server() is None, reason="no nats-server binary")


def _info(port: int) -> dict[str, object]:
    """Read the INFO line a NATS server sends first."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        line = sock.makefile("rb").readline()
    assert line.startswith(b"INFO ")
    info: dict[str, object] = json.loads(line[5:])
    return info


@needs_binary
def test_server_starts_with_jetstream_and_stops() -> None:
    with NatsServer() as server:
        assert server.url == f"nats://127.0.0.1:{server.port}"
        info = _info(server.port)
        assert info["jetstream"] is True
        assert info["max_payload"] == 8 << 20
        assert server.store_dir is not None
        assert server.store_dir.parent.exists()
        port, store = server.port, server.store_dir
    with pytest.raises(OSError):
        _info(port)
    assert not store.parent.exists()


@needs_binary
def test_kill_and_restart_keep_port_and_store() -> None:
    with NatsServer() as server:
        first_pid, port = server.pid, server.port
        server.kill()
        assert server.pid is None
        with pytest.raises(OSError):
            _info(port)
        server.restart()
        assert server.port == port
        assert server.pid not in (None, first_pid)
        assert _info(port)["jetstream"] is True


@needs_binary
def test_token_server_requires_the_token() -> None:
    with NatsServer(token="s3cret") as server:
        assert _info(server.port)["auth_required"] is True


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("proxyflow.testing.nats_server.find_nats_server", lambda: None)
    with pytest.raises(NatsServerUnavailableError, match="PROXYFLOW_NATS_URL"):
        NatsServer().start()


def test_a_binary_that_cannot_run_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(NatsServerUnavailableError, match="cannot run"):
        NatsServer(str(tmp_path / "no-such-nats-server")).start()


def test_nats_url_fixture_points_at_a_live_server(nats_url: str) -> None:
    host, port = nats_url.split("//", 1)[1].rsplit("@", 1)[-1].rsplit(":", 1)
    assert host in {"127.0.0.1", "localhost"}
    assert _info(int(port))["jetstream"] is True


def test_nats_server_fixture_can_be_killed(nats_server: NatsServer) -> None:
    port = nats_server.port
    nats_server.kill()
    with pytest.raises(OSError):
        _info(port)
    nats_server.restart()
    assert _info(port)["jetstream"] is True


def test_nats_fixture_skips_without_a_server_unless_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_needs_nats="""
        def test_uses_nats(nats_url):
            assert nats_url
        """
    )
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(autouse=True, scope="session")
        def _no_binary():
            mp = pytest.MonkeyPatch()
            mp.setattr("proxyflow.testing.nats_server.find_nats_server", lambda: None)
            mp.delenv("PROXYFLOW_NATS_URL", raising=False)
            yield
            mp.undo()
        """
    )
    monkeypatch.delenv("PROXYFLOW_REQUIRE_NATS", raising=False)  # CI sets it
    # -p no:randomly: pytest-randomly imports numpy inside the run, and pytester
    # would then drop it from sys.modules (numpy cannot be imported twice).
    skipped = pytester.runpytest_inprocess("-q", "-rs", "-p", "no:randomly")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no NATS server available*"])
    monkeypatch.setenv("PROXYFLOW_REQUIRE_NATS", "1")
    required = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    required.assert_outcomes(errors=1)


@needs_binary
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_pause_returns_only_once_every_thread_of_the_server_is_stopped() -> None:
    with NatsServer() as server:
        pid = server.pid
        assert pid is not None
        server.pause()
        try:
            states = [
                (task / "stat").read_text().rpartition(")")[2].split()[0]
                for task in Path(f"/proc/{pid}/task").iterdir()
            ]
            assert len(states) > 1  # nats-server is multi-threaded: the case that raced
            assert set(states) <= {"T", "t"}
        finally:
            server.resume()
