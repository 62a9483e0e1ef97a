"""Creating ZeroMQ sockets with their options, translating setup errors, and the process id."""

from __future__ import annotations

import errno
import os
from typing import Any, TypeVar

import zmq

from proxyflow.shims.zmq.exceptions import (
    AddressInUseError,
    InvalidAddressError,
    InvalidContextError,
    SocketFailedError,
    WrongProcessError,
    ZeroMQShimError,
)

__all__ = [
    "bind",
    "check_process",
    "connect",
    "current_pid",
    "failure",
    "linger_ms",
    "new_socket",
    "plain_view",
    "tcp_endpoint",
]

S = TypeVar("S", bound="zmq.Socket[Any]")

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


def check_process(pid: int, label: str) -> None:
    """Refuse to use a socket of process ``pid`` in another (a forked child).

    Raises:
        WrongProcessError: if this is not process ``pid``.
    """
    if current_pid() != pid:
        raise WrongProcessError(
            f"this {label} was created in another process; create one per process"
        )


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


def tcp_endpoint(label: str, address: object, port: object) -> str:
    """Return ``tcp://address:port``: ProxyStore's ``(address, port)`` form of an endpoint.

    Args:
        label: The class name, for messages.
        address: A host or interface (``"127.0.0.1"``, ``"*"``), not a URL.
        port: The TCP port.

    Raises:
        TypeError: if ``address`` is already an endpoint or ``port`` is not an int.
    """
    if not isinstance(address, str) or not address or "://" in address:
        raise TypeError(
            f"{label}(address, port) takes a host such as '127.0.0.1', not {address!r}; "
            f"or give one endpoint: {label}('tcp://127.0.0.1:5555')"
        )
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError(f"{label}(address, port): port must be an int, not {port!r}")
    return f"tcp://{address}:{port}"


def new_socket(context: zmq.Context[Any], kind: int, label: str, socket_class: type[S]) -> S:
    """Create a socket of ``kind`` and class ``socket_class`` on ``context``.

    The class is ``zmq.Socket`` for the sync objects and ``zmq.asyncio.Socket``
    for the asyncio ones, whatever the class of the context.

    Raises:
        InvalidContextError: if the context is terminated.
        SocketFailedError: if ZeroMQ cannot create a socket (out of file descriptors, ...).
    """
    if context.closed:
        raise InvalidContextError(
            f"the ZeroMQ context given to {label} is terminated; pass a live context, "
            "or none to let the object create its own"
        )
    try:
        socket: S = context.socket(kind, socket_class=socket_class)
    except zmq.ZMQError as exc:
        raise failure(exc, label, "creating its socket", InvalidContextError) from None
    return socket


def failure(
    exc: zmq.ZMQError, label: str, doing: str, closed_error: type[ZeroMQShimError]
) -> ZeroMQShimError:
    """Return the shim error for a pyzmq error raised while ``doing`` something.

    A terminated context (``ETERM``) becomes ``closed_error``; any other
    failure a [`SocketFailedError`][proxyflow.shims.zmq.SocketFailedError].

    Args:
        exc: The pyzmq error.
        label: The class name, for the message.
        doing: What was being done (``"sending on 't'"``).
        closed_error: The error meaning *this object is closed*.
    """
    if exc.errno == zmq.ETERM:
        return closed_error(
            f"the {label} is closed: its ZeroMQ context was terminated (context.term() "
            f"elsewhere) while {doing}; create a new one with a live context"
        )
    return SocketFailedError(f"the {label} failed while {doing}: {exc} (errno {exc.errno})")


def plain_view(socket: zmq.Socket[Any]) -> zmq.Socket[bytes]:
    """Return ``socket`` if it is a plain ``zmq.Socket``, else a plain view of the same socket.

    The asyncio classes move frames with non-blocking calls on such a view
    (no future per call) and use the ``zmq.asyncio`` socket only to wait. The
    view does not own the socket: closing the asyncio socket closes it.
    """
    if type(socket) is zmq.Socket:
        return socket
    return zmq.Socket.shadow(socket.underlying)


def bind(socket: zmq.Socket[Any], address: str) -> str:
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


def connect(socket: zmq.Socket[Any], address: str) -> None:
    """Connect ``socket`` to ``address`` (ZeroMQ connects in the background).

    Raises:
        InvalidAddressError: if ZeroMQ rejects the endpoint.
    """
    try:
        socket.connect(address)
    except zmq.ZMQError as exc:
        raise InvalidAddressError(f"cannot connect to {address!r}: {exc}") from None
