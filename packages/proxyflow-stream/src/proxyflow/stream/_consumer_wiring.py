"""The wiring both consumers share: argument checks, topics, the event reader, the resolver.

[`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer] and
[`AsyncStreamConsumer`][proxyflow.stream.async_consumer.AsyncStreamConsumer]
check their arguments and build their reader and store resolver here, so the
two accept the same arguments with the same errors.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Iterable, Mapping, Sequence

from proxyflow.store import Store
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._decode import decode
from proxyflow.stream._draining import GroupDrain
from proxyflow.stream._gaps import GapPolicy
from proxyflow.stream._reader import EndOfStream, EventReader
from proxyflow.stream._resolver import StoreResolver
from proxyflow.stream._signing import Verifier
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import AcknowledgementsUnavailableError
from proxyflow.stream.protocols import Subscriber
from proxyflow.stream.trust import TrustedLocation, TrustPolicy

__all__ = [
    "check_options",
    "check_subscriber",
    "event_reader",
    "group_drain",
    "require_acking",
    "store_resolver",
    "stream_topics",
]


def check_options(ack: str, on_decode_error: str, prefetch: int = 0) -> None:
    """Raise `ValueError` for an unknown ``ack`` or ``on_decode_error``, or ``prefetch < 0``."""
    if ack not in ("auto", "manual"):
        raise ValueError(f"ack must be 'auto' or 'manual', got {ack!r}")
    if prefetch < 0:
        raise ValueError(f"prefetch must be >= 0, got {prefetch!r}")
    if on_decode_error not in ("raise", "skip"):
        raise ValueError(f"on_decode_error must be 'raise' or 'skip', got {on_decode_error!r}")


def check_subscriber(subscriber: object) -> None:
    """Raise `TypeError` unless ``subscriber`` has a ``next_message`` method (a sync subscriber)."""
    if not callable(getattr(subscriber, "next_message", None)):
        raise TypeError(
            "subscriber must provide next_message(timeout) and close() (the "
            f"proxyflow.api.Subscriber protocol); {type(subscriber).__name__} does not"
        )


def stream_topics(subscriber: object, topics: Sequence[str] | None) -> tuple[str, ...]:
    """The topics whose end ends the stream: ``topics`` (or one ``str``), else the subscriber's."""
    if isinstance(topics, str):
        topics = (topics,)
    return tuple(getattr(subscriber, "topics", ()) if topics is None else topics)


def require_acking(ack: str, acking: bool, subscriber: object, examples: str) -> None:
    """Raise `AcknowledgementsUnavailableError` if ``ack="manual"`` and ``acking`` is false.

    Args:
        ack: The ``ack`` argument.
        acking: Whether the subscriber acknowledges (has ``next_delivery``).
        subscriber: The subscriber given, named in the message.
        examples: Acknowledging subscribers to suggest, for the message.
    """
    if ack == "manual" and not acking:
        raise AcknowledgementsUnavailableError(
            f'ack="manual" needs an acknowledging subscriber (one with next_delivery, '
            f"such as {examples}); {type(subscriber).__name__} hands messages over when read"
        )


def event_reader(
    subscriber: Subscriber,
    timeout: float | None,
    ending: EndOfStream,
    *,
    on_decode_error: str,
    stats: ConsumerStats,
    on_gap: GapPolicy,
    acks: AckTracker | None,
    mac_key: bytes | None,
    topics: Sequence[str],
) -> EventReader:
    """Build the event reader: events checked against ``mac_key`` and ``topics`` when signed."""
    return EventReader(
        subscriber,
        timeout,
        ending,
        skip_bad=on_decode_error == "skip",
        stats=stats,
        on_gap=on_gap,
        acks=acks,
        decoder=decode if mac_key is None else Verifier(mac_key, topics).decode,
    )


def store_resolver(
    allowed_connectors: Collection[str] | None,
    store_overrides: Mapping[str, Store] | None,
    trusted_locations: Iterable[str | TrustedLocation] | None,
    mac_key: bytes | None,
) -> StoreResolver:
    """Build the store resolver; with a ``mac_key``, signed events name trusted locations."""
    policy = TrustPolicy(trusted_locations, signed=mac_key is not None)
    return StoreResolver(allowed_connectors, store_overrides, policy)


def group_drain(
    subscriber: object,
    ending: EndOfStream,
    acks: AckTracker | None,
    timeout: float | None,
    drain_group: bool,
    *,
    asynchronous: bool = False,
) -> GroupDrain | None:
    """The group drain of a consumer, or ``None`` when its end does not wait for the group.

    Only an acknowledging consumer (``acks``) with ``drain_group`` whose
    subscriber is work-sharing (``roster``) and reports its group's backlog
    (``backlog``; coroutines for an ``asynchronous`` one) waits for it.
    """
    if not drain_group or acks is None:
        return None
    backlog = getattr(subscriber, "backlog", None)
    roster = getattr(subscriber, "roster", None)
    usable = inspect.iscoroutinefunction if asynchronous else callable
    if not (usable(backlog) and usable(roster)):
        return None
    readable = tuple(getattr(subscriber, "topics", ()) or ())
    return GroupDrain(ending, readable, timeout, backlog)  # type: ignore[arg-type]
