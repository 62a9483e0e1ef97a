"""Creating ZeroMQ sockets with their options, translating setup errors, and the process id."""

from __future__ import annotations

import errno
import os

import zmq

from proxyflow.shims.zmq.exceptions import AddressInUseError, InvalidAddressError

__all__ = ["bind", "connect", "current_pid", "linger_ms"]

_process = [os.getpid()]  # refreshed in forked children, below


def _after_fork_in_child() -> None:
    _process[0] = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)


def current_pid() -> int:
    """Return the id of this process without a system call.

    Sockets check it on every message to refuse use after ``fork``; the value
    is refreshed in forked children, so it is always ``os.getpid()``.
    """
    return _process[0]


def linger_ms(linger: float | None) -> int:
    """Convert a linger in seconds (``None``: wait forever) to ZeroMQ's milliseconds.

    Raises:
        ValueError: if ``linger`` is negative.
    """
    if linger is None:
        return -1
    if linger < 0:
        raise ValueError(f"linger must be >= 0 seconds or None, got {linger!r}")
    return round(linger * 1000)


def bind(socket: zmq.Socket[bytes], address: str) -> str:
    """Bind ``socket`` to ``address`` and return the endpoint actually bound.

    Raises:
        AddressInUseError: if the address is taken.
        InvalidAddressError: if ZeroMQ rejects the endpoint.
    """
    try:
        socket.bind(address)
    except zmq.ZMQError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(
                errno.EADDRINUSE, f"cannot bind {address}: address already in use"
            ) from None
        raise InvalidAddressError(f"cannot bind {address!r}: {exc}") from None
    endpoint = socket.getsockopt(zmq.LAST_ENDPOINT)
    return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)


def connect(socket: zmq.Socket[bytes], address: str) -> None:
    """Connect ``socket`` to ``address`` (ZeroMQ connects in the background).

    Raises:
        InvalidAddressError: if ZeroMQ rejects the endpoint.
    """
    try:
        socket.connect(address)
    except zmq.ZMQError as exc:
        raise InvalidAddressError(f"cannot connect to {address!r}: {exc}") from None
