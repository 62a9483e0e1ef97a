"""Checking the options of publishers and subscribers, shared by the sync and asyncio classes.

[`ZeroMQPublisher`][proxyflow.shims.zmq.ZeroMQPublisher] and
[`AsyncZeroMQPublisher`][proxyflow.shims.zmq.AsyncZeroMQPublisher] take the
same options and refuse the same mistakes, as do the two subscribers: the
checks are here, once, and produce one named record of the options each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxyflow.api import check_timeout
from proxyflow.shims.zmq.flow import OnFull
from proxyflow.shims.zmq.framing import topic_frame
from proxyflow.shims.zmq.sockets import linger_ms, tcp_endpoint

__all__ = [
    "DEFAULT_COPY_THRESHOLD",
    "PublisherOptions",
    "SubscriberOptions",
    "publisher_options",
    "subscriber_options",
]

DEFAULT_COPY_THRESHOLD = 64 * 1024
"""Messages at least this long are sent, and returned, without a copy."""


@dataclass(frozen=True)
class PublisherOptions:
    """The checked options of a publisher.

    Attributes:
        address: The endpoint to bind.
        sndhwm: Messages queued per subscriber before sends wait or drop.
        on_full: ``"block"`` or ``"drop"``.
        send_timeout: Seconds a blocked send waits (``None``: forever).
        linger_ms: ZeroMQ's ``LINGER`` in milliseconds (``-1``: forever).
        copy_threshold: Size from which messages are sent without a copy.
    """

    address: str
    sndhwm: int
    on_full: OnFull
    send_timeout: float | None
    linger_ms: int
    copy_threshold: int


@dataclass(frozen=True)
class SubscriberOptions:
    """The checked options of a subscriber.

    Attributes:
        addresses: The endpoints to connect to.
        frames: The subscription prefix of each topic (see `framing`).
        rcvhwm: Messages queued unread before the publisher waits or drops.
        linger_ms: ZeroMQ's ``LINGER`` in milliseconds (``-1``: forever).
        copy_threshold: Size from which messages are returned as memoryviews.
    """

    addresses: tuple[str, ...]
    frames: tuple[bytes, ...]
    rcvhwm: int
    linger_ms: int
    copy_threshold: int


def publisher_options(
    label: str,
    address: str,
    port: int | None,
    *,
    sndhwm: int,
    on_full: OnFull,
    send_timeout: float | None,
    linger: float | None,
    copy_threshold: int,
) -> PublisherOptions:
    """Check a publisher's arguments and return them as `PublisherOptions`.

    Args:
        label: The class name, for messages.
        address: The endpoint, or with ``port`` a host (ProxyStore's form).
        port: ProxyStore's form: the TCP port to bind on ``address``.
        sndhwm: See `PublisherOptions`.
        on_full: See `PublisherOptions`.
        send_timeout: See `PublisherOptions`.
        linger: Seconds ``close()`` waits for queued messages (``None``: forever).
        copy_threshold: See `PublisherOptions`.

    Raises:
        ValueError: if ``on_full`` or a number is out of range.
        TypeError: if ``port`` is given with an endpoint, or is not an int.
    """
    if port is not None:
        address = tcp_endpoint(label, address, port)
    if sndhwm < 0:
        raise ValueError(f"sndhwm must be >= 0, got {sndhwm!r}")
    if on_full not in ("block", "drop"):
        raise ValueError(f"on_full must be 'block' or 'drop', got {on_full!r}")
    check_timeout(send_timeout, "send_timeout")
    return PublisherOptions(
        address, sndhwm, on_full, send_timeout, linger_ms(linger), copy_threshold
    )


def subscriber_options(
    address: str | Sequence[str],
    topics: tuple[str, ...],
    *,
    rcvhwm: int,
    linger: float | None,
    copy_threshold: int,
) -> SubscriberOptions:
    """Check a subscriber's arguments and return them as `SubscriberOptions`.

    Args:
        address: An endpoint or a sequence of endpoints.
        topics: The topics, already normalised (``proxyflow.api.normalise_topics``).
        rcvhwm: See `SubscriberOptions`.
        linger: Seconds ``close()`` waits for outgoing traffic (``None``: forever).
        copy_threshold: See `SubscriberOptions`.

    Raises:
        InvalidTopicError: if a topic contains a NUL character.
        ValueError: if there is no topic or no address, or ``rcvhwm`` is negative.
    """
    frames = tuple(topic_frame(topic) for topic in topics)
    if not frames:
        raise ValueError("a subscriber needs at least one topic")
    if rcvhwm < 0:
        raise ValueError(f"rcvhwm must be >= 0, got {rcvhwm!r}")
    addresses = (address,) if isinstance(address, str) else tuple(address)
    if not addresses:
        raise ValueError("a subscriber needs at least one address")
    return SubscriberOptions(addresses, frames, rcvhwm, linger_ms(linger), copy_threshold)
