"""The one home of "a private server process on a free loopback port".

[`RedisServer`][proxyflow.testing.redis_server.RedisServer] and
[`NatsServer`][proxyflow.testing.nats_server.NatsServer] differ only in the
command line they run and in how they tell that the server is ready; starting,
waiting, killing, restarting, pausing and stopping the process live here.
Every signal goes to the process this object started, by its own id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, TypeVar

from proxyflow.api.closing import Closeable

__all__ = ["ServerProcess", "free_port"]

_S = TypeVar("_S", bound="ServerProcess")


def _all_threads_stopped(pid: int) -> bool:
    """Return whether every thread of process ``pid`` is stopped (``True`` without ``/proc``)."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return True
    for task in tasks.iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        state = stat.rpartition(")")[2].split()[0]  # the field after the command's name
        if state not in ("T", "t"):
            return False
    return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess(Closeable, ABC):
    """A private server process on a free loopback port, with a private directory.

    The port and the directory are chosen at the first start and kept across
    kill and restart; stop removes the directory.

    Subclasses name the program, the error to raise and the install hint, and
    implement the command line and the readiness probe.
    """

    program: ClassVar[str]
    """The program's name, as said in error messages (``"redis-server"``)."""
    unavailable_error: ClassVar[type[RuntimeError]]
    """The error raised when the program is missing or does not come up."""
    install_hint: ClassVar[str]
    """What a user does about a missing program (ends every such message)."""
    dir_prefix: ClassVar[str]
    """Prefix of the temporary directory's name."""

    def __init__(self, binary: str | None, *, start_timeout: float) -> None:
        """Prepare a server without starting it.

        Args:
            binary: Path of the program, or ``None`` if none was found.
            start_timeout: Seconds to wait for the server to be ready.
        """
        self._binary = binary
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    @property
    def pid(self) -> int | None:
        """The process id of the running server, or ``None``."""
        return None if self._process is None else self._process.pid

    @property
    def work_dir(self) -> Path | None:
        """The server's private directory (kept across restarts), or ``None`` before start."""
        return None if self._dir is None else Path(self._dir.name)

    @property
    @abstractmethod
    def url(self) -> str:
        """The URL clients use to reach the running server."""

    @abstractmethod
    def _command(self) -> list[str]:
        """The command line that runs the server on ``self.port``."""

    @abstractmethod
    def _ready(self) -> bool:
        """Whether the server answers on ``self.port`` (one short probe)."""

    def start(self: _S) -> _S:
        """Start the server and wait until it is ready (nothing if it runs already).

        Raises:
            RuntimeError: the subclass's ``unavailable_error``, if there is no
                binary, it cannot run, or it was not ready within ``start_timeout``.
        """
        if self._binary is None:
            raise self.unavailable_error(f"no {self.program} found: {self.install_hint}")
        if self._process is not None:
            return self
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix=self.dir_prefix)
            self.port = free_port()
        try:
            self._launch()
        except self.unavailable_error:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        assert self._binary is not None
        try:
            self._process = subprocess.Popen(
                self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise self.unavailable_error(
                f"cannot run {self._binary!r}: {exc}; {self.install_hint}"
            ) from exc
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                self._forget_process()
                raise self.unavailable_error(f"{self.program} exited at start: {err.strip()}")
            if self._ready():
                return
            time.sleep(0.02)
        self.kill()
        raise self.unavailable_error(f"{self.program} did not answer within {self._start_timeout}s")

    def kill(self) -> None:
        """Kill the server with ``SIGKILL`` (a crash); its port and directory are kept.

        A second kill does nothing.
        """
        if self._process is None:
            return
        self._process.kill()
        self._process.wait(timeout=10)
        self._forget_process()

    def restart(self: _S) -> _S:
        """Start the server again on the same port (after a kill or a pause, or killing it first).

        Raises:
            RuntimeError: the subclass's ``unavailable_error``, if the server
                does not come back (the port may have been taken meanwhile).
        """
        if self._dir is None:
            return self.start()
        self.kill()
        self._launch()
        return self

    def pause(self) -> None:
        """Freeze the server with ``SIGSTOP``: connections stay open but nothing answers.

        Returns once every thread of the server is stopped (read from
        ``/proc`` where there is one): the kernel stops a multi-threaded
        process one thread at a time, and until the last one stops, a
        server such as ``nats-server`` can still answer.

        Raises:
            RuntimeError: the subclass's ``unavailable_error``, if the
                threads are not all stopped within 10 seconds.
        """
        if self._process is None:
            return
        os.kill(self._process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10.0
        while not _all_threads_stopped(self._process.pid):
            if time.monotonic() > deadline:
                raise self.unavailable_error(
                    f"{self.program} (pid {self._process.pid}) did not stop within 10s of SIGSTOP"
                )
            time.sleep(0.001)  # polls the kernel's view of the threads, bounded above

    def resume(self) -> None:
        """Let a paused server run again (``SIGCONT``)."""
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if self._process is not None:
            self.resume()
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            self._forget_process()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _forget_process(self) -> None:
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def close(self) -> None:
        """Stop the server and remove its directory: the same as ``stop()``."""
        self.stop()

    def __enter__(self: _S) -> _S:
        return self.start()
