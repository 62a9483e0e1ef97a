"""The reading and settling of the Redis Streams subscribers, free of I/O: one home for both forms.

[`GroupCore`][proxyflow.shims.redis._streams_core.GroupCore] decides every
step of one poll (a buffered entry, else a reclaim when due, else one
``XREADGROUP``: `fetch`; the group created again on ``NOGROUP``), of settling a
delivery (``XACK``, a nack with its delay, a dead-letter copy, the cap on
deliveries) and of giving everything back at close. It never talks to Redis:
each step is a generator that yields a [`Command`][proxyflow.shims.redis._streams_steps.Command]
and receives its reply through ``send()`` (or the client's error through
``throw()``), and returns the step's result.

Two thin drivers run the steps:
[`GroupReader`][proxyflow.shims.redis._streams_group.GroupReader] calls a
redis-py client, [`AsyncGroupReader`][proxyflow.shims.redis._streams_async_group.AsyncGroupReader]
awaits a ``redis.asyncio`` one. Errors are translated here, around the
``yield`` of the command that raised them, exactly where the client call was.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio

from proxyflow.api import DeliveryOutcome, GroupBacklog, ProxyflowError, Roster, redact_url
from proxyflow.shims.redis._streams_backlog import SCAN_BOUND, Scan, is_missing_key, read_groups
from proxyflow.shims.redis._streams_commands import (
    claim_args,
    claimed_entries,
    give_up_action,
    log,
    log_given_up,
    log_lost,
    read_entries,
    settle_call,
)
from proxyflow.shims.redis._streams_scripts import SettleStatus, parse_claim, release_args
from proxyflow.shims.redis._streams_server import command_error, is_missing_group, streams_errors
from proxyflow.shims.redis._streams_settings import GroupSettings
from proxyflow.shims.redis._streams_state import (
    Action,
    DeliveryState,
    Entry,
    Inbox,
    Plan,
    dead_letter_fields,
    plan,
    triage,
)
from proxyflow.shims.redis._streams_steps import SCRIPTS, Call, Pipelined, RunScript, Step
from proxyflow.shims.redis.connection import CONNECTION_ERRORS, REDIS_ERRORS
from proxyflow.shims.redis.exceptions import BrokerConnectionError
from proxyflow.shims.redis.roster import parse_roster, roster_key
from proxyflow.shims.redis.stream_keys import REASON_TRIMMED, RELEASED_CONSUMER

__all__ = ["GroupCore", "ReaderBase"]

ClientT = TypeVar("ClientT", redis.Redis, redis.asyncio.Redis)


class GroupCore:
    """One subscriber's reads, settlements and close, as steps free of I/O.

    Args:
        url: The server URL (shown redacted in errors).
        settings: The subscriber's settings.
        confirm_acks: Whether ``ack()`` waits for Redis's reply (else acks
            are queued and sent with the next read).
        describe: Names the subscriber in messages.
    """

    def __init__(
        self, url: str, settings: GroupSettings, *, confirm_acks: bool, describe: str
    ) -> None:
        self.url = url
        self.settings = settings
        self.describe = describe
        self.inbox = Inbox(settings, defer_acks=not confirm_acks)
        """The entries and deliveries held; a poll is ``inbox.take()``, else `fetch`."""
        self.keys = [settings.keys.key(topic) for topic in settings.topics]
        pairs = zip(self.keys, settings.topics, strict=True)
        self._by_key = {key.encode(): (key, topic) for key, topic in pairs}
        self._streams: dict[Any, Any] = dict.fromkeys(self.keys, ">")  # XREADGROUP: new entries
        self.lost = 0
        """Pending entries found deleted (trimmed) by a reclaim: they cannot be delivered again."""

    def create_groups(self, start: str) -> Step[None]:
        """Create the group on every stream (``MKSTREAM``), from ``start``; keep existing ones."""
        for key in self.keys:
            doing = f"creating group {self.settings.group!r} on {key!r}"
            with streams_errors(self.url, doing):
                try:
                    options = {"id": start, "mkstream": True}
                    yield Call("xgroup_create", (key, self.settings.group), options)
                except redis.ResponseError as exc:
                    if not str(exc).startswith("BUSYGROUP"):
                        raise command_error(exc, self.url, doing) from exc

    # -- reading (the reader's thread) --------------------------------------------------

    def fetch(self, wait: float) -> Step[Entry | None]:
        """The rest of one poll once ``inbox.take()`` found no buffered entry.

        A reclaim when due, else (or if it found nothing) one read, waiting
        at most ``wait`` seconds. Returns the entry to hand out, or ``None``.
        A missing group (its stream was deleted) is created again, from the
        first entry.
        """
        inbox = self.inbox
        try:
            entry = None
            if inbox.reclaim_due(time.monotonic()):
                yield from self._reclaim()
                entry = inbox.take()
            if entry is None:
                yield from self._read(wait)
                entry = inbox.take()
            return entry
        except ProxyflowError:
            raise  # translated already (a ConnectionError is also an OSError)
        except redis.ResponseError as exc:
            if not is_missing_group(exc):
                raise command_error(exc, self.url, f"reading {list(self.settings.topics)}") from exc
            log.warning("%s: group missing (stream deleted?), created again", self.describe)
            yield from self.create_groups("0")
            return None
        except CONNECTION_ERRORS as exc:
            safe = redact_url(self.url)
            raise BrokerConnectionError(
                f"Redis at {safe}: the {self.describe} lost its connection: {exc}; "
                "the next call connects again (entries not acknowledged stay pending)",
                safe,
            ) from exc
        except REDIS_ERRORS as exc:
            raise command_error(exc, self.url, f"reading {list(self.settings.topics)}") from exc

    def _reclaim(self) -> Step[None]:
        inbox = self.inbox
        complete = True
        for key, topic in self._by_key.values():
            args = claim_args(self.settings, inbox.cursors.get(key, b"0-0"))
            claimed = parse_claim((yield RunScript("claim", [key], args)))
            inbox.cursors[key] = claimed.cursor
            complete = complete and claimed.cursor == b"0-0"
            if claimed.deleted:
                self.lost += len(claimed.deleted)
                log_lost(self.describe, topic, claimed.deleted)
            keep, doomed = self._triage(claimed_entries(claimed, key, topic))
            for entry, verdict in doomed:
                yield from self._give_up(entry, verdict, entry.delivery_count - 1)
            inbox.add(keep)
        inbox.reclaim_done(time.monotonic(), complete)

    def _read(self, wait: float) -> Step[None]:
        inbox, settings = self.inbox, self.settings
        block = None if wait < 0.001 else max(1, int(wait * 1000))
        args = (settings.group, settings.consumer_name, self._streams, inbox.fetch, block)
        read = Call("xreadgroup", args)
        acks = inbox.take_acks() if inbox.defer_acks else {}
        if acks:
            calls = [Call("xack", (key, settings.group, *ids)) for key, ids in acks.items()]
            try:
                reply = (yield Pipelined((*calls, read)))[-1]
            except BaseException:
                inbox.requeue_acks(acks)
                raise
        else:
            reply = yield read
        entries = read_entries(reply, self._by_key)
        inbox.fetched(time.monotonic(), len(entries))
        keep, doomed = self._triage(entries)
        for entry, verdict in doomed:
            yield from self._give_up(entry, verdict, entry.delivery_count - 1)
        inbox.add(keep)

    def _triage(self, entries: list[Entry]) -> tuple[list[Entry], list[tuple[Entry, Plan]]]:
        """Split entries read into those to hand out and those to give up on at once.

        The caller gives up on the malformed and exhausted ones first, then
        buffers the others.
        """
        keep, doomed = [], []
        for entry in entries:
            verdict = triage(self.settings, entry)
            if verdict is None:
                keep.append(entry)
            else:
                doomed.append((entry, verdict))
        return keep, doomed

    # -- settling (any thread) ----------------------------------------------------------

    def settle(
        self, delivery: DeliveryState, outcome: DeliveryOutcome, delay: float | None
    ) -> Step[None] | None:
        """Settle ``delivery`` with ``outcome`` (once; a failed settling leaves it pending).

        Returns the step that settles it on the server, or ``None`` if the
        delivery was settled already (nothing to run).

        Raises:
            ValueError: if a nack's ``delay`` is out of range.
            DeliveryReleasedError: if ``close()`` gave the delivery back first.
        """
        if outcome is DeliveryOutcome.NACKED:
            self.settings.check_delay(delay)
        if not self.inbox.begin(delivery, outcome, self.describe):
            return None
        return self._apply(delivery, outcome, delay)

    def _apply(
        self, delivery: DeliveryState, outcome: DeliveryOutcome, delay: float | None
    ) -> Step[None]:
        entry, settings = delivery.entry, self.settings
        try:
            decided = plan(settings, outcome, entry.delivery_count, delay)
            if decided.action is Action.ACK:
                if self.inbox.defer_acks:
                    self.inbox.defer_ack(entry)
                    return
                with streams_errors(self.url, f"acknowledging an entry of {entry.topic!r}"):
                    yield Call("xack", (entry.key, settings.group, entry.entry_id))
            elif decided.action is Action.NACK:
                status = yield from self._run_settle(entry, "nack", decided.idle_ms, [])
                if status == SettleStatus.TRIMMED:
                    trimmed = Plan(give_up_action(settings), reason=REASON_TRIMMED)
                    yield from self._give_up(entry, trimmed, entry.delivery_count)
                elif status == SettleStatus.NACKED:
                    self.inbox.reclaim_soon(delay or 0.0)
            else:
                yield from self._give_up(entry, decided, entry.delivery_count)
        except BaseException:
            self.inbox.undo(delivery)
            raise

    def _give_up(self, entry: Entry, verdict: Plan, deliveries: int) -> Step[None]:
        """Move ``entry`` to the dead letters (or drop it), if this subscriber still holds it."""
        settings = self.settings
        if verdict.action is Action.DEAD:
            fields = dead_letter_fields(settings, entry, verdict.reason, deliveries)
            status = yield from self._run_settle(entry, "dead", 0, fields)
        else:
            status = yield from self._run_settle(entry, "drop", 0, [])
        if status == SettleStatus.DONE:
            log_given_up(self.describe, settings, entry, verdict, deliveries)

    def _run_settle(
        self, entry: Entry, action: str, idle_ms: int, fields: list[bytes]
    ) -> Step[int]:
        call = settle_call(self.settings, entry, action, idle_ms, fields)
        with streams_errors(self.url, f"settling ({action}) an entry of {entry.topic!r}"):
            return int((yield RunScript("settle", call.keys, call.args)))

    # -- close and queries --------------------------------------------------------------

    def give_back(self, late: Sequence[DeliveryState]) -> Step[None]:
        """Send queued acks and give every held entry back to the group (close).

        ``late`` are deliveries read while the subscriber closed, never seen
        by the application. If Redis cannot be reached, a warning says so: the
        group reclaims the entries after the visibility timeout. The driver
        closes its client afterwards.
        """
        inbox, settings = self.inbox, self.settings
        acks = inbox.take_acks()
        entries, held = inbox.release_all(late)
        try:
            with streams_errors(self.url, "giving back deliveries at close"):
                for key, ids in acks.items():
                    yield Call("xack", (key, settings.group, *ids))
                args = release_args(
                    settings.group, settings.consumer_name, RELEASED_CONSUMER,
                    settings.visibility_ms, leave=True, held=held,
                )  # fmt: skip
                _, trimmed = yield RunScript("release", self.keys, args)
            verdict = Plan(give_up_action(settings), reason=REASON_TRIMMED)
            for position in trimmed:
                entry = entries[int(position) - 1]
                yield from self._give_up(entry, verdict, entry.delivery_count)
        except ProxyflowError as exc:
            log.warning(
                "%s: could not give back %d entries at close (%s); the group reclaims them "
                "after the visibility timeout", self.describe, len(held), exc,
            )  # fmt: skip

    def roster(self, topic: str) -> Step[Roster]:
        """Return the producers that joined and left ``topic``."""
        key = roster_key(self.settings.keys.key(topic))
        with streams_errors(self.url, f"reading the roster of {topic!r}"):
            fields = yield Call("hkeys", (key,))
        return parse_roster(fields)

    def backlog(self, topic: str) -> Step[GroupBacklog]:
        """Return what the group has left of ``topic`` (see ``_streams_backlog``)."""
        key = self.settings.keys.key(topic)
        with streams_errors(self.url, f"reading the backlog of {topic!r}"):
            try:
                rows = yield Call("xinfo_groups", (key,))
            except redis.ResponseError as exc:
                if is_missing_key(exc):
                    return GroupBacklog(0, 0)  # no stream: nothing was ever sent
                raise
            step = read_groups(rows, self.settings.group)
            if not isinstance(step, Scan):
                return step
            scan = {"min": step.after, "max": "+", "count": SCAN_BOUND}
            found = yield Call("xrange", (key,), scan)
        return step.backlog(len(found or ()))


class ReaderBase(Generic[ClientT]):
    """What both drivers hold: their client, its scripts and the `GroupCore` they run.

    Args:
        url: The server URL (shown redacted in errors).
        client: The subscriber's client (redis-py or ``redis.asyncio``).
        settings: The subscriber's settings.
        confirm_acks: Whether ``ack()`` waits for Redis's reply.
        describe: Names the subscriber in messages.
    """

    def __init__(
        self,
        url: str,
        client: ClientT,
        settings: GroupSettings,
        *,
        confirm_acks: bool,
        describe: str,
    ) -> None:
        self._client: ClientT = client
        self._core = GroupCore(url, settings, confirm_acks=confirm_acks, describe=describe)
        self._inbox = self._core.inbox
        self._scripts: dict[str, Any] = {
            name: client.register_script(source) for name, source in SCRIPTS.items()
        }

    @property
    def lost(self) -> int:
        """Pending entries found deleted (trimmed) by a reclaim: they cannot be delivered again."""
        return self._core.lost
