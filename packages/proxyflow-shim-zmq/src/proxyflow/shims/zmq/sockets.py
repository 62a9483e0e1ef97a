"""Creating ZeroMQ sockets with their options, and translating setup errors."""

from __future__ import annotations

import errno

import zmq

from proxyflow.shims.zmq.exceptions import AddressInUseError, InvalidAddressError

__all__ = ["bind", "connect", "linger_ms"]


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
