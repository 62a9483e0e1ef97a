"""``RedisStreamSubscriber``: consumer groups of Redis Streams, with acknowledgements."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import redis

from proxyflow.api import (
    CONFIGURED,
    Closeable,
    Configured,
    Message,
    PollingSubscriber,
    ProxyflowError,
    Roster,
    redact_url,
)
from proxyflow.shims.redis._base import _RedisEndpoint
from proxyflow.shims.redis._streams_roster import RosterKeys, roster_from_sets
from proxyflow.shims.redis._streams_scripts import (
    CLAIM,
    RELEASE,
    SETTLE,
    SettleStatus,
    parse_claim,
    release_args,
)
from proxyflow.shims.redis._streams_server import (
    CLAIM_VERSION,
    check_version,
    command_error,
    is_missing_group,
    streams_errors,
)
from proxyflow.shims.redis._streams_state import (
    Action,
    DeliverPolicy,
    DeliveryState,
    Entry,
    GroupSettings,
    Inbox,
    Outcome,
    Plan,
    dead_letter_fields,
    plan,
    triage,
)
from proxyflow.shims.redis.connection import REDIS_ERRORS, open_client, translate_errors
from proxyflow.shims.redis.exceptions import (
    BrokerConnectionError,
    DeliveryReleasedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)
from proxyflow.shims.redis.stream_delivery import RedisStreamDelivery
from proxyflow.shims.redis.stream_keys import (
    DEFAULT_DEAD_LETTER_TOPIC,
    DEFAULT_STREAM_PREFIX,
    REASON_TRIMMED,
    RELEASED_CONSUMER,
    StreamKeys,
)

__all__ = ["RedisStreamSubscriber"]

log = logging.getLogger("proxyflow.shims.redis")


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
        return self._owner._take(wait)

    def _release(self, late: RedisStreamDelivery | None) -> None:
        self._owner._give_back(late)

    def _describe(self) -> str:
        return self._owner._describe()


class RedisStreamSubscriber(_RedisEndpoint, Closeable):
    """Reads topics through a Redis Streams consumer group; deliveries are acknowledged.

    Satisfies ``proxyflow.api.AckingSubscriber`` (and so ``Subscriber``) and
    ``WorkSharingSubscriber``. Topic ``t`` is the stream ``prefix + t``; the
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
            another type, an ACL rule).
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
        self._inbox = Inbox(self._settings, defer_acks=not confirm_acks)
        self._keys = [self._settings.keys.key(topic) for topic in self._poller.topics]
        self._by_key = {
            key.encode(): (key, topic) for key, topic in zip(self._keys, self.topics, strict=True)
        }
        self.lost = 0
        """Pending entries found deleted (trimmed) by a reclaim: they cannot be delivered again."""
        self._client = open_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        try:
            check_version(self._info(), CLAIM_VERSION, self._label, url)
            self._claim = self._client.register_script(CLAIM)
            self._settle_script = self._client.register_script(SETTLE)
            self._release_script = self._client.register_script(RELEASE)
            self._create_groups(self._settings.start_id)
        except BaseException:
            self._client.close()
            raise

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
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._poller.closed

    def _describe(self) -> str:
        return f"{self._label} of {list(self.topics)} in group {self.group!r}"

    # -- setup --------------------------------------------------------------------------

    def _info(self) -> dict[str, Any] | None:
        with translate_errors(self._url, "reading the server version"):
            try:
                info: dict[str, Any] = self._client.info("server")
            except redis.ResponseError:  # INFO refused by an ACL: commands will tell
                return None
        return info

    def _create_groups(self, start: str) -> None:
        for key in self._keys:
            doing = f"creating group {self.group!r} on {key!r}"
            with translate_errors(self._url, doing):
                try:
                    self._client.xgroup_create(key, self.group, id=start, mkstream=True)
                except redis.ResponseError as exc:
                    if not str(exc).startswith("BUSYGROUP"):
                        raise command_error(exc, self._url, doing) from exc

    # -- reading (the reader's thread) --------------------------------------------------

    def _take(self, wait: float) -> RedisStreamDelivery | None:
        """One poll: a buffered entry, else a reclaim when due, else one read."""
        try:
            entry = self._next_entry(wait)
        except ProxyflowError:
            raise  # translated already (a ConnectionError is also an OSError)
        except redis.ResponseError as exc:
            if not is_missing_group(exc):
                raise command_error(exc, self._url, f"reading {list(self.topics)}") from exc
            log.warning("%s: group missing (stream deleted?), created again", self._describe())
            self._create_groups("0")
            return None
        except REDIS_ERRORS as exc:
            safe = redact_url(self._url)
            raise BrokerConnectionError(
                f"Redis at {safe}: the {self._describe()} lost its connection: {exc}; "
                "the next call connects again (entries not acknowledged stay pending)",
                safe,
            ) from exc
        if entry is None:
            return None
        delivery = RedisStreamDelivery(entry, self)
        self._inbox.hand_out(delivery)
        return delivery

    def _next_entry(self, wait: float) -> Entry | None:
        inbox = self._inbox
        entry = inbox.take()
        if entry is None and inbox.reclaim_due(time.monotonic()):
            self._reclaim()
            entry = inbox.take()
        if entry is None:
            self._read(wait)
            entry = inbox.take()
        return entry

    def _reclaim(self) -> None:
        settings, inbox = self._settings, self._inbox
        complete = True
        for key, topic in self._by_key.values():
            cursor = inbox.cursors.get(key, b"0-0")
            args: list[Any] = [settings.group, settings.consumer_name, settings.visibility_ms]
            claimed = parse_claim(self._claim(keys=[key], args=[*args, cursor, settings.batch]))
            inbox.cursors[key] = claimed.cursor
            complete = complete and claimed.cursor == b"0-0"
            if claimed.deleted:
                self.lost += len(claimed.deleted)
                log.error(
                    "%s: %d entries of %r were deleted from the stream (a length cap?) while "
                    "pending: they cannot be delivered again: %s",
                    self._describe(), len(claimed.deleted), topic, claimed.deleted[:5],
                )  # fmt: skip
            self._admit(
                [Entry(topic, key, c.entry_id, c.fields, c.delivery_count) for c in claimed.entries]
            )
        inbox.reclaim_done(time.monotonic(), complete)

    def _read(self, wait: float) -> None:
        inbox, settings = self._inbox, self._settings
        streams: dict[Any, Any] = dict.fromkeys(self._keys, ">")
        block = None if wait < 0.001 else max(1, int(wait * 1000))
        count = inbox.fetch
        acks = inbox.take_acks() if inbox.defer_acks else {}
        if acks:
            pipe = self._client.pipeline(transaction=False)
            for key, ids in acks.items():
                pipe.xack(key, settings.group, *ids)
            pipe.xreadgroup(settings.group, settings.consumer_name, streams, count, block)
            try:
                reply = pipe.execute()[-1]
            except BaseException:
                for key, ids in acks.items():  # XACK is idempotent: send them again later
                    inbox.acks.setdefault(key, []).extend(ids)
                raise
        else:
            reply = self._client.xreadgroup(
                settings.group, settings.consumer_name, streams, count, block
            )
        entries = []
        for raw_key, items in reply or ():
            key, topic = self._by_key[raw_key]
            entries += [Entry(topic, key, entry_id, fields, 1) for entry_id, fields in items]
        inbox.fetched(time.monotonic(), len(entries))
        self._admit(entries)

    def _admit(self, entries: list[Entry]) -> None:
        """Buffer entries to hand out; give up at once on malformed or exhausted ones."""
        keep = []
        for entry in entries:
            verdict = triage(self._settings, entry)
            if verdict is None:
                keep.append(entry)
            else:
                self._give_up(entry, verdict, entry.delivery_count - 1)
        self._inbox.add(keep)

    # -- settling (any thread) ----------------------------------------------------------

    def _settle(self, delivery: DeliveryState, outcome: Outcome, delay: float | None) -> None:
        if outcome is Outcome.NACKED:
            self._settings.check_delay(delay)
        try:
            if not self._inbox.begin(delivery, outcome):
                return
        except LookupError:
            raise DeliveryReleasedError(
                f"the {self._describe()} was closed and gave this message back to its "
                "group; it will be delivered again"
            ) from None
        try:
            self._apply(delivery.entry, outcome, delay)
        except BaseException:
            self._inbox.undo(delivery)
            raise

    def _apply(self, entry: Entry, outcome: Outcome, delay: float | None) -> None:
        settings = self._settings
        decided = plan(settings, outcome, entry.delivery_count, delay)
        if decided.action is Action.ACK:
            if self._inbox.defer_acks:
                self._inbox.defer_ack(entry)
                return
            with streams_errors(self._url, f"acknowledging an entry of {entry.topic!r}"):
                self._client.xack(entry.key, settings.group, entry.entry_id)
        elif decided.action is Action.NACK:
            status = self._run_settle(entry, "nack", decided.idle_ms, [])
            if status == SettleStatus.TRIMMED:
                give_up = Action.DROP if settings.dead_letter is None else Action.DEAD
                self._give_up(entry, Plan(give_up, reason=REASON_TRIMMED), entry.delivery_count)
            elif status == SettleStatus.NACKED:
                self._inbox.reclaim_soon(delay or 0.0)
        else:
            self._give_up(entry, decided, entry.delivery_count)

    def _give_up(self, entry: Entry, verdict: Plan, deliveries: int) -> None:
        """Move ``entry`` to the dead letters (or drop it), if this subscriber still holds it."""
        settings = self._settings
        if verdict.action is Action.DEAD:
            fields = dead_letter_fields(settings, entry, verdict.reason, deliveries)
            status = self._run_settle(entry, "dead", 0, fields)
        else:
            status = self._run_settle(entry, "drop", 0, [])
        if status == SettleStatus.DONE:
            where = f"moved to {settings.dead_letter!r}" if verdict.action is Action.DEAD else (
                "dropped (no dead-letter topic)"
            )  # fmt: skip
            log.warning(
                "%s: entry %s of %r %s: %s after %d deliveries",
                self._describe(), entry.entry_id.decode(), entry.topic, where, verdict.reason,
                deliveries,
            )  # fmt: skip

    def _run_settle(self, entry: Entry, action: str, idle_ms: int, fields: list[bytes]) -> int:
        settings = self._settings
        keys = [entry.key, settings.dead_letter_key or entry.key]
        args: list[Any] = [
            settings.group, settings.consumer_name, entry.entry_id, entry.delivery_count,
            action, idle_ms, *fields,
        ]  # fmt: skip
        with streams_errors(self._url, f"settling ({action}) an entry of {entry.topic!r}"):
            return int(self._settle_script(keys=keys, args=args))

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
        sets = RosterKeys.of(self._settings.keys.key(topic))
        with streams_errors(self._url, f"reading the roster of {topic!r}"):
            pipe = self._client.pipeline(transaction=True)
            pipe.smembers(sets.joined)
            pipe.smembers(sets.left)
            joined, left = pipe.execute()
        return roster_from_sets(joined, left)

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

    def _give_back(self, late: RedisStreamDelivery | None) -> None:
        inbox, settings = self._inbox, self._settings
        acks = inbox.take_acks()
        entries, held = inbox.release_all(late)
        try:
            with streams_errors(self._url, "giving back deliveries at close"):
                for key, ids in acks.items():
                    self._client.xack(key, settings.group, *ids)
                args = release_args(
                    settings.group, settings.consumer_name, RELEASED_CONSUMER,
                    settings.visibility_ms, leave=True, held=held,
                )  # fmt: skip
                _, trimmed = self._release_script(keys=self._keys, args=args)
            give_up = Action.DROP if settings.dead_letter is None else Action.DEAD
            for position in trimmed:
                entry = entries[int(position) - 1]
                self._give_up(entry, Plan(give_up, reason=REASON_TRIMMED), entry.delivery_count)
        except ProxyflowError as exc:
            log.warning(
                "%s: could not give back %d entries at close (%s); the group reclaims them "
                "after the visibility timeout", self._describe(), len(held), exc,
            )  # fmt: skip
        finally:
            self._client.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"{self._label}({self.url!r}, topics={list(self.topics)}, group={self.group!r}, "
            f"consumer={self.consumer!r}, {state})"
        )
