"""Flow control of the publisher: wait for a slow subscriber, or drop its messages.

A plain ZeroMQ ``PUB`` socket drops messages for a subscriber whose queue
holds ``sndhwm`` messages. With ``on_full="block"`` the publisher's ``XPUB``
socket sets ``XPUB_NODROP`` instead: a send that finds a full queue fails
with ``EAGAIN`` after ``SNDTIMEO``, and
[`send_first_frame`][proxyflow.shims.zmq.flow.send_first_frame] retries in
short slices until the queue has room, ``send_timeout`` passes, or the
publisher is closed. ZeroMQ counts whole messages against the high-water
mark, so only the first frame of a message can find the queue full. The
asyncio publisher waits for room on the event loop instead, and reports the
outcome with the same errors
([`not_sent_in_time`][proxyflow.shims.zmq.flow.not_sent_in_time],
[`closed_while_waiting`][proxyflow.shims.zmq.flow.closed_while_waiting]).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import zmq

from proxyflow.shims.zmq.exceptions import PublisherClosedError, PublishTimeoutError

__all__ = [
    "DEFAULT_SEND_TIMEOUT",
    "WAIT_SLICE_MS",
    "OnFull",
    "closed_while_waiting",
    "configure",
    "not_sent_in_time",
    "send_first_frame",
]

DEFAULT_SEND_TIMEOUT = 60.0
"""Seconds a blocked ``send_message`` waits for room, and ``close()`` for queued messages."""

OnFull = Literal["block", "drop"]
"""What a publisher does when a subscriber's queue is full: wait for room, or drop."""

WAIT_SLICE_MS = 100
"""Longest single wait of a blocked send, so that ``close()`` from another thread ends it."""


def configure(
    socket: zmq.Socket[Any], on_full: OnFull, send_timeout: float | None, *, sliced: bool = True
) -> None:
    """Set the options of ``socket`` for ``on_full`` (nothing to set for ``"drop"``).

    Args:
        socket: The publisher's ``XPUB`` socket.
        on_full: ``"block"`` or ``"drop"``.
        send_timeout: Seconds a blocked send waits in all (``None``: forever).
        sliced: Whether a blocking send waits inside ZeroMQ in slices
            (``SNDTIMEO``), as the sync publisher does; the asyncio publisher
            waits on the event loop and leaves ``SNDTIMEO`` alone.

    Raises:
        zmq.ZMQError: as pyzmq raises it; the caller translates it.
    """
    if on_full == "block":
        socket.setsockopt(zmq.XPUB_NODROP, 1)
        if sliced:
            slice_ms = WAIT_SLICE_MS if send_timeout is None else int(send_timeout * 1000)
            socket.setsockopt(zmq.SNDTIMEO, min(WAIT_SLICE_MS, slice_ms))


def closed_while_waiting(label: str, topic: str) -> PublisherClosedError:
    """The error of a send that waited for room while the publisher was closed."""
    return PublisherClosedError(
        f"the {label} was closed while a send on {topic!r} waited for a subscriber "
        "to make room; the message was not sent"
    )


def not_sent_in_time(hwm: int, topic: str, send_timeout: float | None) -> PublishTimeoutError:
    """The error of a send that found no room within ``send_timeout`` seconds.

    Args:
        hwm: The socket's ``SNDHWM``, for the message.
        topic: The topic of the message that was not sent.
        send_timeout: The seconds waited.
    """
    return PublishTimeoutError(
        f"a subscriber of {topic!r} has had {hwm} messages queued for "
        f"{send_timeout}s and reads none: the message was not sent. Make the "
        "subscriber keep up (or close it), send again, raise send_timeout "
        "(None waits forever), or create the publisher with on_full='drop' "
        "to drop messages for slow subscribers instead",
        topic,
    )


def send_first_frame(
    socket: zmq.Socket[bytes],
    frame: bytes,
    topic: str,
    send_timeout: float | None,
    closing: Callable[[], bool],
) -> None:
    """Send ``frame`` (with ``SNDMORE``) once the full queue it met has room.

    Args:
        socket: The publisher's socket, whose send just failed with ``EAGAIN``.
        frame: The topic frame to send.
        topic: The topic, for messages.
        send_timeout: Seconds to wait in all (``None``: forever).
        closing: Whether the publisher is being closed.

    Raises:
        PublishTimeoutError: after ``send_timeout`` seconds.
        PublisherClosedError: if the publisher is closed meanwhile.
        zmq.ZMQError: other pyzmq errors; the caller translates them.
    """
    deadline = None if send_timeout is None else time.monotonic() + send_timeout
    while True:
        if closing():
            raise closed_while_waiting("ZeroMQPublisher", topic)
        if deadline is not None and time.monotonic() >= deadline:
            raise not_sent_in_time(int(socket.getsockopt(zmq.SNDHWM)), topic, send_timeout)
        try:
            socket.send(frame, zmq.SNDMORE)
        except zmq.Again:
            continue
        return
