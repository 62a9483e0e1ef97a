"""Waiting on the event loop until an asyncio socket is ready, for the asyncio classes.

The asyncio publisher and subscriber move frames only with non-blocking
calls; when a call finds nothing to read (or no room to send), they wait
here for the socket to become ready, then try again. A wait never takes a
message out of the socket, so a wait that ends early (a timeout, a close, a
cancelled task) loses nothing. Waits are bounded by the caller (at most a
slice of about 0.1 s), so that a ZeroMQ context terminated by other code is
noticed: pyzmq never wakes a waiter for that.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import zmq
import zmq.asyncio

__all__ = ["wait_ready"]


async def wait_ready(socket: zmq.asyncio.Socket, flags: int, seconds: float) -> None:
    """Wait until ``socket`` is ready for ``flags``, is closed, or ``seconds`` passed.

    Args:
        socket: The asyncio socket.
        flags: ``zmq.POLLIN`` or ``zmq.POLLOUT``.
        seconds: The longest wait (``> 0``).

    Raises:
        zmq.ZMQError: as pyzmq raises it; the caller translates it.
    """
    # pyzmq's type stub gives the asyncio socket's poll() the Poller's signature.
    poll = cast("Any", socket).poll
    ready = cast("asyncio.Future[int]", poll(timeout=max(1, int(seconds * 1000)), flags=flags))
    try:
        await asyncio.wait((ready,), timeout=seconds)
    finally:
        if not ready.done():
            ready.cancel()
        elif not ready.cancelled():
            # A failure shows again in the caller's next call on the socket.
            ready.exception()
