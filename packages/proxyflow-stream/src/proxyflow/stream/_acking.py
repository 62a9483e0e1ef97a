"""The acknowledgement methods of [`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer].

Kept apart from the consumer's shell: `Acknowledging` is mixed into it and
works on its acknowledgement tracker (``_acks``, see ``_acks``).
"""

from __future__ import annotations

from typing import Any

from proxyflow.store import Store
from proxyflow.stream._ack_types import Outcome
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._resolver import fetch
from proxyflow.stream._source import InlineObject
from proxyflow.stream.exceptions import AcknowledgementsUnavailableError, ConsumerClosedError
from proxyflow.stream.protocols import Subscriber

__all__ = ["Acknowledging", "acks_unavailable", "release_before_next"]


def acks_unavailable(subscriber: object) -> AcknowledgementsUnavailableError:
    """The error of ``ack`` and friends over a ``subscriber`` that does not acknowledge."""
    return AcknowledgementsUnavailableError(
        f"{type(subscriber).__name__} hands each message over when it is read "
        "(at-most-once): there is nothing to acknowledge; use an acknowledging "
        "subscriber (Redis Streams, NATS JetStream) for at-least-once delivery"
    )


def release_before_next(acks: AckTracker, closed: bool) -> bool:
    """Start a ``next*`` call of either consumer over an acknowledging subscriber.

    Raises `ConsumerClosedError` if the consumer is ``closed``; with
    ``ack="auto"``, acknowledges the item the calling thread or task was
    given last, and returns ``True`` (the asyncio consumer then awaits the
    broker calls).
    """
    if closed:
        raise ConsumerClosedError("the consumer is closed")
    if acks.mode == "auto":
        acks.auto_release()
        return True
    return False


class Acknowledging:
    """``ack``, ``nack``, ``reject`` and ``delivery_count`` of a stream consumer."""

    _acks: AckTracker | None
    _subscriber: Subscriber

    def ack(self, item: Any) -> None:
        """Acknowledge an item: it is never delivered again; its object is evicted if asked.

        ``item`` is the very proxy or object this consumer handed out. A
        message carrying several objects is acknowledged with the last of them.

        Raises:
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
            ConnectionError: If the broker cannot be reached (the message will
                be delivered again).
            TimeoutError: If the broker did not confirm in time (the
                acknowledgement may or may not have taken effect; the message
                may be delivered again).
        """
        self._tracker().settle(item, Outcome.ACK)

    def nack(self, item: Any, delay: float | None = None) -> None:
        """Give an item back: its message is delivered again after ``delay`` s (``None``: soon).

        Nothing is evicted. The shim may dead-letter a message delivered too
        many times (its ``max_deliveries``), and may bound ``delay`` (Redis
        Streams: at most the visibility timeout).

        Raises:
            ValueError: If ``delay`` is negative (the item stays held).
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
        """
        if delay is not None and not delay >= 0:
            raise ValueError(f"delay must be >= 0 seconds or None, got {delay!r}")
        self._tracker().settle(item, Outcome.NACK, delay)

    def reject(self, item: Any) -> None:
        """Give up on an item: its message goes to the shim's dead-letter place, if any.

        The object stays in its store, so that the dead-lettered event can
        still be resolved.

        Raises:
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
        """
        self._tracker().settle(item, Outcome.REJECT)

    def delivery_count(self, item: Any) -> int:
        """Return how many times the broker has handed out the message of an unsettled item.

        Raises:
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
        """
        return self._tracker().ticket_of(item).delivery_count

    def _tracker(self) -> AckTracker:
        if self._acks is None:
            raise acks_unavailable(self._subscriber)
        return self._acks

    def _held_item(
        self, acks: AckTracker, kept: Any, store: Store | None, *, resolve: bool
    ) -> tuple[dict[str, Any], Any]:
        """Hand out an item of a delivery: tracked, and read without evicting."""
        if type(kept) is InlineObject:
            ticket = acks.take(kept.item, None)
            acks.hand_out(kept.value, ticket)
            return kept.item.metadata, kept.value
        assert store is not None
        ticket = acks.take(kept, store)
        kept = kept._replace(evict=False)  # evicted when its delivery is acknowledged
        if resolve:
            try:
                value = fetch(store, kept)
            except BaseException as exc:
                acks.failed(ticket, exc)
                raise
        else:
            value = store.proxy_from_key(kept.key, evict=False, digest=kept.digest)
        acks.hand_out(value, ticket)
        return kept.metadata, value
