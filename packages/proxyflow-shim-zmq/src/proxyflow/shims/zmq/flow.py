"""Flow control of the publisher: wait for a slow subscriber, or drop its messages.

A plain ZeroMQ ``PUB`` socket drops messages for a subscriber whose queue
holds ``sndhwm`` messages. With ``on_full="block"`` the publisher's ``XPUB``
socket sets ``XPUB_NODROP`` instead: a send that finds a full queue fails
with ``EAGAIN`` after ``SNDTIMEO``, and
[`send_first_frame`][proxyflow.shims.zmq.flow.send_first_frame] retries in
short slices until the queue has room, ``send_timeout`` passes, or the
publisher is closed. ZeroMQ counts whole messages against the high-water
mark, so only the first frame of a message can find the queue full.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import zmq

from proxyflow.shims.zmq.exceptions import PublisherClosedError, PublishTimeoutError

__all__ = ["DEFAULT_SEND_TIMEOUT", "WAIT_SLICE_MS", "OnFull", "configure", "send_first_frame"]

DEFAULT_SEND_TIMEOUT = 60.0
"""Seconds a blocked ``send_message`` waits for room, and ``close()`` for queued messages."""

OnFull = Literal["block", "drop"]
"""What a publisher does when a subscriber's queue is full: wait for room, or drop."""

WAIT_SLICE_MS = 100
"""Longest single wait of a blocked send, so that ``close()`` from another thread ends it."""


def configure(socket: zmq.Socket[bytes], on_full: OnFull, send_timeout: float | None) -> None:
    """Set the options of ``socket`` for ``on_full`` (nothing to set for ``"drop"``).

    Raises:
        zmq.ZMQError: as pyzmq raises it; the caller translates it.
    """
    if on_full == "block":
        socket.setsockopt(zmq.XPUB_NODROP, 1)
        slice_ms = WAIT_SLICE_MS if send_timeout is None else int(send_timeout * 1000)
        socket.setsockopt(zmq.SNDTIMEO, min(WAIT_SLICE_MS, slice_ms))


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
            raise PublisherClosedError(
                f"the ZeroMQPublisher was closed while a send on {topic!r} waited for "
                "a subscriber to make room; the message was not sent"
            )
        if deadline is not None and time.monotonic() >= deadline:
            hwm = int(socket.getsockopt(zmq.SNDHWM))
            raise PublishTimeoutError(
                f"a subscriber of {topic!r} has had {hwm} messages queued for "
                f"{send_timeout}s and reads none: the message was not sent. Make the "
                "subscriber keep up (or close it), send again, raise send_timeout "
                "(None waits forever), or create the publisher with on_full='drop' "
                "to drop messages for slow subscribers instead",
                topic,
            )
        try:
            socket.send(frame, zmq.SNDMORE)
        except zmq.Again:
            continue
        return
