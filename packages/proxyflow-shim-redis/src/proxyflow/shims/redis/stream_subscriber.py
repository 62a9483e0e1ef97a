"""``RedisStreamSubscriber``: consumer groups of Redis Streams, with acknowledgements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import redis

from proxyflow.api import (
    CONFIGURED,
    Closeable,
    Configured,
    GroupBacklog,
    Message,
    PollingSubscriber,
    Roster,
)
from proxyflow.shims.redis._base import _RedisEndpoint
from proxyflow.shims.redis._streams_group import GroupReader
from proxyflow.shims.redis._streams_server import CLAIM_VERSION, check_version
from proxyflow.shims.redis._streams_settings import DeliverPolicy, GroupSettings
from proxyflow.shims.redis.connection import open_client, translate_errors
from proxyflow.shims.redis.exceptions import SubscriberClosedError, SubscriberTimeoutError
from proxyflow.shims.redis.stream_delivery import RedisStreamDelivery
from proxyflow.shims.redis.stream_keys import (
    DEFAULT_DEAD_LETTER_TOPIC,
    DEFAULT_STREAM_PREFIX,
    StreamKeys,
)

__all__ = ["RedisStreamSubscriber"]


class _Poller(PollingSubscriber[RedisStreamDelivery]):
    """The bounded-poll loop and close handshake of one `RedisStreamSubscriber`."""

    closed_error = SubscriberClosedError
    timeout_error = SubscriberTimeoutError

    def __init__(
        self, owner: RedisStreamSubscriber, topics: str | Sequence[str], **options: Any
    ) -> None:
        super().__init__(topics, **options)
        self._owner = owner

    def _poll(self, wait: float) -> RedisStreamDelivery | None:
        return self._owner._group.take(wait)

    def _release(self, late: RedisStreamDelivery | None) -> None:
        self._owner._group.give_back(late)

    def _describe(self) -> str:
        return self._owner._describe()


class RedisStreamSubscriber(_RedisEndpoint, Closeable):
    """Reads topics through a Redis Streams consumer group; deliveries are acknowledged.

    Satisfies ``proxyflow.api.AckingSubscriber`` (and so ``Subscriber``),
    ``WorkSharingSubscriber`` and ``DrainableSubscriber`` (``backlog(topic)``).
    Topic ``t`` is the stream ``prefix + t``; the
    constructor creates the consumer group ``group`` on each stream when it is
    missing (``XGROUP CREATE ... MKSTREAM``), starting from the oldest entry
    kept (``deliver_policy="all"``: nothing sent before the group existed is
    missed) or from new entries only (``"new"``). An existing group keeps its
    position.

    Guarantees:

    * **Multi-consumer**: subscribers of one ``group`` share the work (each
      entry goes to one of them); each group gets every entry (fan-out: give
      each consuming service its own group).
    * **At-least-once**: an entry stays pending in the group until
      acknowledged. One not settled within ``visibility_timeout`` seconds (its
      reader crashed or is slow) is reclaimed (``XAUTOCLAIM``) by a subscriber
      of the group and handed out again; ``close()`` gives back what it holds
      at once.
    * **Ordering**: first deliveries of one topic come in stream order;
      redeliveries come when they are due, before newer entries.
    * **Redelivery limit and dead letters**: an entry handed out
      ``max_deliveries`` times that comes back once more (``nack``, or an
      expired visibility timeout), a rejected entry, and an entry without a
      ``message`` field are copied to the dead-letter stream with their
      metadata (see [`stream_keys`][proxyflow.shims.redis.stream_keys]), then
      acknowledged. With ``dead_letter=None`` they are dropped, with a warning.
    * **Blocking**: ``next_delivery`` waits in ``XREADGROUP ... BLOCK`` calls of
      at most ``poll_interval`` seconds, so ``close()`` from another thread
      ends a wait within that time. Up to ``batch`` entries per topic are read
      at once while the reader keeps up (one at first).
    * **Connection loss**: the call that meets it raises
      [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError];
      the next one connects again. Nothing is lost: entries read but not
      acknowledged stay pending in the group.
    * Plain ``next_message`` and iteration acknowledge each message as they
      return it (at-most-once for the caller).

    Read a subscriber from one thread at a time; settle deliveries from any
    thread. Needs Redis 6.2 or later.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        topics: One topic or a sequence of them.
        group: The consumer group: the subscribers that share the work.
        consumer: This subscriber's name in the group (default: unique per
            instance, ``<host>-<pid>-<random>``). Two live subscribers must not
            share a name.
        prefix: Prefix of the stream keys (as given to the publisher).
        visibility_timeout: Seconds an unsettled delivery stays with its
            subscriber before the group hands it out again.
        max_deliveries: Deliveries before the group gives up on an entry
            (``None``: no limit).
        dead_letter: The topic whose stream keeps given-up entries (``None``:
            drop them, with a warning).
        batch: Most entries read per topic in one ``XREADGROUP``.
        timeout: What iteration, and ``next_delivery()``/``next_message()``
            without an argument, wait (``None``: forever).
        deliver_policy: Where a new group starts: ``"all"`` or ``"new"``.
        confirm_acks: ``ack()`` waits for Redis's reply (``False``: it is
            queued and sent with the next read or by ``close()``; faster, and a
            lost acknowledgement only means a redelivery).
        claim_interval: Seconds between reclaims of expired deliveries
            (default: half the visibility timeout, at most 5 s).
        socket_timeout: Seconds a read or write may take; must exceed ``poll_interval``.
        connect_timeout: Seconds connecting may take.
        poll_interval: Longest single wait on the server.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer.
        StreamsUnsupportedError: if the server is older than Redis 6.2.
        BrokerProtocolError: if Redis refuses to create the group (a key of
            another type); `BrokerAuthenticationError` for an ACL denial.
        ValueError: for an option out of range, no topic, or a dead-letter
            topic that is also read.

    Example:
        ```python
        subscriber = RedisStreamSubscriber(url, ["jobs"], group="workers")
        delivery = subscriber.next_delivery(timeout=5.0)
        handle(delivery.message)
        delivery.ack()  # never delivered to this group again
        ```
    """

    _label = "RedisStreamSubscriber"

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        group: str,
        consumer: str | None = None,
        prefix: str = DEFAULT_STREAM_PREFIX,
        visibility_timeout: float = 30.0,
        max_deliveries: int | None = 5,
        dead_letter: str | None = DEFAULT_DEAD_LETTER_TOPIC,
        batch: int = 16,
        timeout: float | None = None,
        deliver_policy: DeliverPolicy = "all",
        confirm_acks: bool = True,
        claim_interval: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._poller = _Poller(self, topics, timeout=timeout, poll_interval=poll_interval)
        if not self._poller.topics:
            raise ValueError("a subscriber needs at least one topic")
        if socket_timeout is not None and socket_timeout <= poll_interval:
            raise ValueError(
                f"socket_timeout ({socket_timeout}s) must exceed poll_interval "
                f"({poll_interval}s): an XREADGROUP waits that long for an answer"
            )
        self._settings = GroupSettings(
            self._poller.topics,
            group,
            consumer,
            StreamKeys(prefix),
            visibility_timeout,
            max_deliveries,
            dead_letter,
            batch,
            claim_interval,
            deliver_policy,
        )
        client = open_client(url, socket_timeout=socket_timeout, connect_timeout=connect_timeout)
        try:
            with translate_errors(url, "reading the server version"):
                try:
                    info: dict[str, Any] | None = client.info("server")
                except redis.ResponseError:  # INFO refused by an ACL: commands will tell
                    info = None
            check_version(info, CLAIM_VERSION, self._label, url)
            self._group = GroupReader(
                url, client, self._settings, confirm_acks=confirm_acks, describe=self._describe()
            )
            self._group.create_groups(self._settings.start_id)
        except BaseException:
            client.close()
            raise
        self._client = client

    # -- properties ---------------------------------------------------------------------

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics read."""
        return self._poller.topics

    @property
    def group(self) -> str:
        """The consumer group."""
        return self._settings.group

    @property
    def consumer(self) -> str:
        """This subscriber's consumer name in the group."""
        return self._settings.consumer_name

    @property
    def visibility_timeout(self) -> float:
        """Seconds before an unsettled delivery is handed out again."""
        return self._settings.visibility_timeout

    @property
    def dead_letter(self) -> str | None:
        """The dead-letter topic, or ``None``."""
        return self._settings.dead_letter

    @property
    def lost(self) -> int:
        """Pending entries a reclaim found deleted (by a length cap): lost for good."""
        return self._group.lost

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._poller.closed

    def _describe(self) -> str:
        return f"{self._label} of {list(self.topics)} in group {self.group!r}"

    # -- setup --------------------------------------------------------------------------

    # -- the subscriber protocol --------------------------------------------------------

    def next_delivery(self, timeout: float | Configured | None = CONFIGURED) -> RedisStreamDelivery:
        """Return the next delivery, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives or
                the subscriber is closed; ``0`` does not wait. By default, the
                ``timeout`` given at construction.

        Raises:
            SubscriberTimeoutError: (a ``TimeoutError``) if nothing arrived in time.
            SubscriberClosedError: (an ``EOFError``) if the subscriber is or gets closed.
            BrokerConnectionError: if Redis cannot be reached (the next call tries again).
        """
        return self._poller.next_message(timeout)

    def next_message(self, timeout: float | Configured | None = CONFIGURED) -> Message:
        """Return the next message, acknowledged on receipt (see `next_delivery`)."""
        delivery = self.next_delivery(timeout)
        delivery.ack()
        return delivery.message

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        try:
            return self.next_message(self._timeout)
        except EOFError:
            raise StopIteration from None

    def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` (``WorkSharingSubscriber``).

        Raises:
            SubscriberClosedError: if the subscriber is closed.
            BrokerConnectionError: if Redis cannot be reached.
        """
        if self.closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        return self._group.roster(topic)

    def backlog(self, topic: str) -> GroupBacklog:
        """Return what the group has left of ``topic`` (``DrainableSubscriber``).

        ``unacknowledged`` is the group's pending count (entries handed out and
        not acknowledged, a dead consumer's included); ``undelivered`` the
        group's ``lag`` on Redis 7 or later, else the entries after its
        last-delivered id, counted up to 100. One ``XINFO GROUPS`` (and one
        ``XRANGE`` without ``lag``).

        Raises:
            ValueError: if this subscriber does not read ``topic``.
            SubscriberClosedError: if the subscriber is closed.
            BrokerConnectionError: if Redis cannot be reached.
        """
        if self.closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        if topic not in self.topics:
            raise ValueError(f"the {self._describe()} does not read {topic!r}")
        return self._group.backlog(topic)

    # -- close --------------------------------------------------------------------------

    def close(self) -> None:
        """Give back unsettled deliveries, leave the group and close; idempotent.

        Deliveries handed out and not settled, and entries read but not handed
        out, go back to the group at once (marked idle past the visibility
        timeout, under the consumer ``proxyflow:released``), so any subscriber
        of the group reclaims them on its next reclaim; queued acknowledgements
        are sent first. If Redis cannot be reached, the group reclaims them
        after the visibility timeout instead. From another thread while one
        reads, the reader finishes the close within ``poll_interval``.
        """
        self._poller.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"{self._label}({self.url!r}, topics={list(self.topics)}, group={self.group!r}, "
            f"consumer={self.consumer!r}, {state})"
        )
