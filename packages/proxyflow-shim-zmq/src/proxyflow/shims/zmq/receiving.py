"""Receiving one framed message, shared by the sync and asyncio subscribers.

A message is two frames, ``[topic + NUL, payload]`` (see
[`framing`][proxyflow.shims.zmq.framing]). The payload is returned as
``bytes``, or from ``copy_threshold`` bytes on as a memoryview over the
received ZeroMQ frame (no copy). Anything else is a
[`MalformedMessageError`][proxyflow.shims.zmq.MalformedMessageError], and
the whole malformed message is consumed so that the next one is read intact.
"""

from __future__ import annotations

from typing import Any

import zmq

from proxyflow.shims.zmq.exceptions import MalformedMessageError

__all__ = ["rest_of_message"]


def _payload(frame: zmq.Frame, copy_threshold: int) -> bytes | memoryview:
    if len(frame) >= copy_threshold:
        view: memoryview = frame.buffer
        return view
    return frame.bytes


def _malformed(parts: int) -> MalformedMessageError:
    return MalformedMessageError(
        f"expected 2 frames [topic, payload], got {parts}; "
        "is a foreign publisher bound to the same endpoint?"
    )


def _discard_rest(socket: zmq.Socket[Any]) -> int:
    """Receive and drop the remaining parts of a message; return how many."""
    count = 1
    while socket.recv(zmq.NOBLOCK, copy=False).more:
        count += 1
    return count


def rest_of_message(
    socket: zmq.Socket[Any], head: zmq.Frame, copy_threshold: int
) -> bytes | memoryview:
    """Receive the payload frame that follows ``head`` and return the payload.

    The parts of a message arrive together, so the rest is there already:
    it is received without waiting.

    Args:
        socket: A synchronous socket (or a shadow of an asyncio one).
        head: The first frame, just received.
        copy_threshold: Size from which the payload is returned as a memoryview.

    Raises:
        MalformedMessageError: if the message is not two frames.
        zmq.ZMQError: as pyzmq raises it; the caller translates it.
    """
    payload: zmq.Frame | None = socket.recv(zmq.NOBLOCK, copy=False) if head.more else None
    if payload is None or payload.more:
        raise _malformed(1 if payload is None else 2 + _discard_rest(socket))
    return _payload(payload, copy_threshold)
