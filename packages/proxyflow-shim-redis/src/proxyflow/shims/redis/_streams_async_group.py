"""The reading and settling of ``AsyncRedisStreamSubscriber``, on one ``redis.asyncio`` client.

[`AsyncGroupReader`][proxyflow.shims.redis._streams_async_group.AsyncGroupReader]
is [`GroupReader`][proxyflow.shims.redis._streams_group.GroupReader] with
coroutines: the same steps, and the same shared state and commands.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

from proxyflow.api import ProxyflowError, Roster, redact_url
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
from proxyflow.shims.redis._streams_scripts import (
    CLAIM,
    RELEASE,
    SETTLE,
    SettleStatus,
    parse_claim,
    release_args,
)
from proxyflow.shims.redis._streams_server import command_error, is_missing_group, streams_errors
from proxyflow.shims.redis._streams_settings import GroupSettings
from proxyflow.shims.redis._streams_state import (
    Action,
    DeliveryState,
    Entry,
    Inbox,
    Outcome,
    Plan,
    dead_letter_fields,
    plan,
    triage,
)
from proxyflow.shims.redis.connection import CONNECTION_ERRORS, REDIS_ERRORS
from proxyflow.shims.redis.exceptions import BrokerConnectionError
from proxyflow.shims.redis.roster import parse_roster, roster_key
from proxyflow.shims.redis.stream_delivery import AsyncRedisStreamDelivery
from proxyflow.shims.redis.stream_keys import REASON_TRIMMED, RELEASED_CONSUMER

__all__ = ["AsyncGroupReader"]


class AsyncGroupReader:
    """One asyncio subscriber's reads, settlements and close, on its client.

    Args:
        url: The server URL (shown redacted in errors).
        client: The subscriber's client (a pool: settling from other threads
            uses other connections than the reader's).
        settings: The subscriber's settings.
        confirm_acks: Whether ``ack()`` waits for Redis's reply.
        describe: Names the subscriber in messages.
    """

    def __init__(
        self,
        url: str,
        client: redis.asyncio.Redis,
        settings: GroupSettings,
        *,
        confirm_acks: bool,
        describe: str,
    ) -> None:
        self._url = url
        self._client = client
        self._settings = settings
        self._describe = describe
        self._inbox = Inbox(settings, defer_acks=not confirm_acks)
        self._keys = [settings.keys.key(topic) for topic in settings.topics]
        pairs = zip(self._keys, settings.topics, strict=True)
        self._by_key = {key.encode(): (key, topic) for key, topic in pairs}
        self._claim = client.register_script(CLAIM)
        self._settle_script = client.register_script(SETTLE)
        self._release_script = client.register_script(RELEASE)
        self.lost = 0
        """Pending entries found deleted (trimmed) by a reclaim: they cannot be delivered again."""

    async def create_groups(self, start: str) -> None:
        for key in self._keys:
            doing = f"creating group {self._settings.group!r} on {key!r}"
            with streams_errors(self._url, doing):
                try:
                    await self._client.xgroup_create(
                        key, self._settings.group, id=start, mkstream=True
                    )
                except redis.ResponseError as exc:
                    if not str(exc).startswith("BUSYGROUP"):
                        raise command_error(exc, self._url, doing) from exc

    # -- reading --------------------- --------------------------------------------------

    async def take(self, wait: float) -> AsyncRedisStreamDelivery | None:
        """One poll: a buffered entry, else a reclaim when due, else one read."""
        try:
            entry = await self._next_entry(wait)
        except ProxyflowError:
            raise  # translated already (a ConnectionError is also an OSError)
        except redis.ResponseError as exc:
            if not is_missing_group(exc):
                raise command_error(
                    exc, self._url, f"reading {list(self._settings.topics)}"
                ) from exc
            log.warning("%s: group missing (stream deleted?), created again", self._describe)
            await self.create_groups("0")
            return None
        except CONNECTION_ERRORS as exc:
            safe = redact_url(self._url)
            raise BrokerConnectionError(
                f"Redis at {safe}: the {self._describe} lost its connection: {exc}; "
                "the next call connects again (entries not acknowledged stay pending)",
                safe,
            ) from exc
        except REDIS_ERRORS as exc:
            raise command_error(exc, self._url, f"reading {list(self._settings.topics)}") from exc
        if entry is None:
            return None
        delivery = AsyncRedisStreamDelivery(entry, self)
        self._inbox.hand_out(delivery)
        return delivery

    async def _next_entry(self, wait: float) -> Entry | None:
        inbox = self._inbox
        entry = inbox.take()
        if entry is None and inbox.reclaim_due(time.monotonic()):
            await self._reclaim()
            entry = inbox.take()
        if entry is None:
            await self._read(wait)
            entry = inbox.take()
        return entry

    async def _reclaim(self) -> None:
        inbox = self._inbox
        complete = True
        for key, topic in self._by_key.values():
            args = claim_args(self._settings, inbox.cursors.get(key, b"0-0"))
            claimed = parse_claim(await self._claim(keys=[key], args=args))
            inbox.cursors[key] = claimed.cursor
            complete = complete and claimed.cursor == b"0-0"
            if claimed.deleted:
                self.lost += len(claimed.deleted)
                log_lost(self._describe, topic, claimed.deleted)
            await self._admit(claimed_entries(claimed, key, topic))
        inbox.reclaim_done(time.monotonic(), complete)

    async def _read(self, wait: float) -> None:
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
                reply = (await pipe.execute())[-1]
            except BaseException:
                inbox.requeue_acks(acks)
                raise
        else:
            reply = await self._client.xreadgroup(
                settings.group, settings.consumer_name, streams, count, block
            )
        entries = read_entries(reply, self._by_key)
        inbox.fetched(time.monotonic(), len(entries))
        await self._admit(entries)

    async def _admit(self, entries: list[Entry]) -> None:
        """Buffer entries to hand out; give up at once on malformed or exhausted ones."""
        keep = []
        for entry in entries:
            verdict = triage(self._settings, entry)
            if verdict is None:
                keep.append(entry)
            else:
                await self._give_up(entry, verdict, entry.delivery_count - 1)
        self._inbox.add(keep)

    # -- settling ----------------------------------------------------------------------

    async def _settle(self, delivery: DeliveryState, outcome: Outcome, delay: float | None) -> None:
        if outcome is Outcome.NACKED:
            self._settings.check_delay(delay)
        if not self._inbox.begin(delivery, outcome, self._describe):
            return
        try:
            await self._apply(delivery.entry, outcome, delay)
        except BaseException:
            self._inbox.undo(delivery)
            raise

    async def _apply(self, entry: Entry, outcome: Outcome, delay: float | None) -> None:
        settings = self._settings
        decided = plan(settings, outcome, entry.delivery_count, delay)
        if decided.action is Action.ACK:
            if self._inbox.defer_acks:
                self._inbox.defer_ack(entry)
                return
            with streams_errors(self._url, f"acknowledging an entry of {entry.topic!r}"):
                await self._client.xack(entry.key, settings.group, entry.entry_id)
        elif decided.action is Action.NACK:
            status = await self._run_settle(entry, "nack", decided.idle_ms, [])
            if status == SettleStatus.TRIMMED:
                trimmed = Plan(give_up_action(settings), reason=REASON_TRIMMED)
                await self._give_up(entry, trimmed, entry.delivery_count)
            elif status == SettleStatus.NACKED:
                self._inbox.reclaim_soon(delay or 0.0)
        else:
            await self._give_up(entry, decided, entry.delivery_count)

    async def _give_up(self, entry: Entry, verdict: Plan, deliveries: int) -> None:
        """Move ``entry`` to the dead letters (or drop it), if this subscriber still holds it."""
        settings = self._settings
        if verdict.action is Action.DEAD:
            fields = dead_letter_fields(settings, entry, verdict.reason, deliveries)
            status = await self._run_settle(entry, "dead", 0, fields)
        else:
            status = await self._run_settle(entry, "drop", 0, [])
        if status == SettleStatus.DONE:
            log_given_up(self._describe, settings, entry, verdict, deliveries)

    async def _run_settle(
        self, entry: Entry, action: str, idle_ms: int, fields: list[bytes]
    ) -> int:
        call = settle_call(self._settings, entry, action, idle_ms, fields)
        with streams_errors(self._url, f"settling ({action}) an entry of {entry.topic!r}"):
            return int(await self._settle_script(keys=call.keys, args=call.args))

    async def give_back(self, late: Sequence[AsyncRedisStreamDelivery]) -> None:
        inbox, settings = self._inbox, self._settings
        acks = inbox.take_acks()
        entries, held = inbox.release_all(late)
        try:
            with streams_errors(self._url, "giving back deliveries at close"):
                for key, ids in acks.items():
                    await self._client.xack(key, settings.group, *ids)
                args = release_args(
                    settings.group, settings.consumer_name, RELEASED_CONSUMER,
                    settings.visibility_ms, leave=True, held=held,
                )  # fmt: skip
                _, trimmed = await self._release_script(keys=self._keys, args=args)
            verdict = Plan(give_up_action(settings), reason=REASON_TRIMMED)
            for position in trimmed:
                entry = entries[int(position) - 1]
                await self._give_up(entry, verdict, entry.delivery_count)
        except ProxyflowError as exc:
            log.warning(
                "%s: could not give back %d entries at close (%s); the group reclaims them "
                "after the visibility timeout", self._describe, len(held), exc,
            )  # fmt: skip
        finally:
            await self._client.aclose()

    async def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic``."""
        key = roster_key(self._settings.keys.key(topic))
        with streams_errors(self._url, f"reading the roster of {topic!r}"):
            fields = await self._client.hkeys(key)
        return parse_roster(fields)  # type: ignore[arg-type]  # bytes: no decode_responses
