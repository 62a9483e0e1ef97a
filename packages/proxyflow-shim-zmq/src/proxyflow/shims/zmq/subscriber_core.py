"""What both ZeroMQ subscribers hold and do alike: the socket, its options, releasing it.

[`ZeroMQSubscriber`][proxyflow.shims.zmq.ZeroMQSubscriber] and
[`AsyncZeroMQSubscriber`][proxyflow.shims.zmq.AsyncZeroMQSubscriber] differ in
how they wait for a message (inside ZeroMQ, or on the event loop); the rest
is [`SubscriberCore`][proxyflow.shims.zmq.subscriber_core.SubscriberCore].
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar, Generic

import zmq

from proxyflow.shims.zmq.exceptions import SubscriberClosedError
from proxyflow.shims.zmq.opening import open_subscriber
from proxyflow.shims.zmq.options import subscriber_options
from proxyflow.shims.zmq.sockets import S, check_process, current_pid, plain_view

__all__ = ["SubscriberCore"]


class SubscriberCore(Generic[S]):
    """The connected ``SUB`` socket of a subscriber, its options, and releasing it.

    A base of both subscribers; ``_open`` makes the socket once the topics
    (``_topics``) are known.
    """

    label: ClassVar[str] = "subscriber"
    """The class name, for messages."""
    _topics: tuple[str, ...]
    _closed: bool

    def _open(
        self,
        address: str | Sequence[str],
        context: zmq.Context[Any] | None,
        socket_class: type[S],
        *,
        rcvhwm: int,
        linger: float | None,
        copy_threshold: int,
        rcvtimeo_ms: int | None,
    ) -> None:
        """Check the options, then create, subscribe and connect the socket.

        Raises:
            InvalidTopicError: if a topic contains a NUL character.
            InvalidAddressError: if an endpoint is invalid.
            InvalidContextError: if ``context`` is terminated.
            ValueError: if there is no topic or no address, or ``rcvhwm`` is negative.
        """
        options = subscriber_options(
            address, self._topics, rcvhwm=rcvhwm, linger=linger, copy_threshold=copy_threshold
        )
        self._addresses = options.addresses
        self._linger = options.linger_ms
        self._copy_threshold = copy_threshold
        self._pid = os.getpid()
        self._released = False
        opened = open_subscriber(
            options, context, socket_class, self.label, rcvtimeo_ms=rcvtimeo_ms
        )
        self._context = opened.context
        self._own_context = opened.own_context
        self._socket: S = opened.socket
        self._plain = plain_view(opened.socket)

    @property
    def addresses(self) -> tuple[str, ...]:
        """The endpoints connected to."""
        return self._addresses

    def _check_usable(self) -> None:
        if self._closed:
            raise SubscriberClosedError(f"the {self.label} is closed")
        check_process(self._pid, self.label)

    def _release_socket(self) -> bool:
        """Close the socket once (discarding unread messages); whether to end the context.

        Returns:
            Whether the caller should terminate an owned context now (not
            after an earlier release, nor in a forked child, which must not
            touch the parent's context).
        """
        if self._released or current_pid() != self._pid:
            return False
        self._released = True
        self._socket.close(linger=self._linger)
        return self._own_context

    def __reduce__(self) -> str:
        raise TypeError(f"this {self.label} cannot be pickled; create it in the process that reads")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self.label}({list(self._addresses)}, topics={list(self._topics)}, {state})"
