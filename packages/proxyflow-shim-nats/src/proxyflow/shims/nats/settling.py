"""Settling deliveries: acknowledgements, redelivery requests and dead letters.

A [`Settlements`][proxyflow.shims.nats.settling.Settlements] keeps the
deliveries of one subscriber that are not settled yet, sends each outcome to
the server (``+ACK``, ``-NAK``, ``+TERM``; a dead-letter copy first where one
is due) and gives every unsettled delivery back when the subscriber closes.
Its bookkeeping is guarded by a lock, so that the synchronous classes may
settle without waiting from their callers' threads
([`settle_nowait`][proxyflow.shims.nats.settling.Settlements.settle_nowait]).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from proxyflow.api import DeliveryOutcome, check_timeout
from proxyflow.shims.nats.deadletter import (
    REASON_MAX_DELIVERIES,
    REASON_REJECTED,
    dead_letter_headers,
)
from proxyflow.shims.nats.delivery import AsyncJetStreamDelivery
from proxyflow.shims.nats.exceptions import DeliveryReleasedError, SubscriberClosedError
from proxyflow.shims.nats.publishing import PublishPolicy, publish_acknowledged
from proxyflow.shims.nats.translation import translate_error

__all__ = ["ACK", "NAK", "TERM", "DeadLetters", "Settlements", "nak_payload"]

log = logging.getLogger("proxyflow.shims.nats")

ACK = b"+ACK"
NAK = b"-NAK"
TERM = b"+TERM"


def nak_payload(delay: float | None) -> bytes:
    """The ``-NAK`` body asking for redelivery after ``delay`` seconds."""
    if not delay:
        return NAK
    return NAK + b" " + json.dumps({"delay": int(delay * 1e9)}).encode()


@dataclass(frozen=True)
class DeadLetters:
    """Where a subscriber moves the messages it gives up on.

    Attributes:
        topic: The dead-letter topic.
        subject: Its subject in the stream.
        durable: The subscriber's durable name (recorded in a header).
        max_deliver: Deliveries after which a message is moved (``None``: only rejects).
    """

    topic: str
    subject: str
    durable: str
    max_deliver: int | None

    def exhausted(self, delivery_count: int) -> bool:
        """Whether a message delivered ``delivery_count`` times has no delivery left."""
        return self.max_deliver is not None and delivery_count >= self.max_deliver


class Settlements:
    """The unsettled deliveries of one subscriber, and how their outcomes reach the server.

    Args:
        client: Returns the open connection, or ``None`` once closed.
        url: The server's redacted URL, for errors.
        describe: Names the subscriber in errors.
        confirm_acks: Wait for the server to confirm ``+ACK`` and ``+TERM``.
        ack_timeout: Seconds a confirmation may take.
        dead_letters: The dead-letter topic, if any.
        policy: Timeouts of dead-letter publishes.
    """

    def __init__(
        self,
        client: Callable[[], Client | None],
        *,
        url: str,
        describe: str,
        confirm_acks: bool,
        ack_timeout: float,
        dead_letters: DeadLetters | None,
        policy: PublishPolicy,
    ) -> None:
        self._client = client
        self._url = url
        self._describe = describe
        self.confirm_acks = confirm_acks
        self._ack_timeout = ack_timeout
        self.dead_letters = dead_letters
        self._policy = policy
        self.lock = threading.Lock()
        self._unsettled: set[AsyncJetStreamDelivery] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def track(self, delivery: AsyncJetStreamDelivery) -> None:
        """Count ``delivery`` as handed out and unsettled (call with ``lock`` held)."""
        self._unsettled.add(delivery)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the event loop the connection runs on (for ``settle_nowait``)."""
        self._loop = loop

    # -- settling on the loop ---------------------------------------------------------

    def _claim(self, delivery: AsyncJetStreamDelivery, outcome: DeliveryOutcome) -> bool:
        """Move a pending delivery to ``outcome``; ``False`` if it is settled already."""
        with self.lock:
            state = delivery.outcome
            if state is DeliveryOutcome.PENDING:
                delivery.outcome = outcome
                self._unsettled.discard(delivery)
                return True
        if state.refuses(outcome):
            raise DeliveryReleasedError(
                f"the {self._describe} was closed and gave this message back to the "
                "server; it will be delivered again"
            )
        return False  # settled before (or nacked after close): nothing to do

    def _unclaim(self, delivery: AsyncJetStreamDelivery) -> None:
        with self.lock:
            if delivery.outcome is not DeliveryOutcome.RELEASED:
                delivery.outcome = DeliveryOutcome.PENDING
                self._unsettled.add(delivery)

    async def settle(
        self, delivery: AsyncJetStreamDelivery, outcome: DeliveryOutcome, delay: float | None
    ) -> None:
        """Send ``outcome`` for ``delivery``; a failure leaves it unsettled (and raises)."""
        if outcome is DeliveryOutcome.NACKED:
            check_timeout(delay, "delay")
        if not self._claim(delivery, outcome):
            return
        try:
            await self._send_outcome(delivery, outcome, delay)
        except BaseException:
            self._unclaim(delivery)
            raise

    async def _send_outcome(
        self, delivery: AsyncJetStreamDelivery, outcome: DeliveryOutcome, delay: float | None
    ) -> None:
        msg, dead = delivery.raw, self.dead_letters
        if outcome is DeliveryOutcome.ACKED:
            await self.send(msg, ACK, confirm=self.confirm_acks)
        elif outcome is DeliveryOutcome.REJECTED:
            if dead is not None:
                await self.move_to_dead_letters(msg, delivery.topic, REASON_REJECTED)
            else:
                await self.send(msg, TERM, confirm=self.confirm_acks)
        elif dead is not None and dead.exhausted(delivery.delivery_count):
            await self.move_to_dead_letters(msg, delivery.topic, REASON_MAX_DELIVERIES)
        else:
            await self.send(msg, nak_payload(delay), confirm=False)

    def settle_nowait(
        self, delivery: AsyncJetStreamDelivery, outcome: DeliveryOutcome, delay: float | None
    ) -> bool:
        """Settle from any thread without waiting, if the outcome needs no answer.

        That is an unconfirmed ``ack``, or a ``nack`` that does not move the
        message to the dead letters. The acknowledgement is queued on the
        connection's event loop. Returns ``False`` when the caller must use
        [`settle`][proxyflow.shims.nats.settling.Settlements.settle] instead.
        """
        dead = self.dead_letters
        if outcome is DeliveryOutcome.ACKED:
            if self.confirm_acks:
                return False
            payload = ACK
        elif outcome is DeliveryOutcome.NACKED:
            if dead is not None and dead.exhausted(delivery.delivery_count):
                return False
            check_timeout(delay, "delay")
            payload = nak_payload(delay)
        else:
            return False
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        if self._claim(delivery, outcome):
            # A loop closed meanwhile means a closed subscriber: the server hands the
            # message out again, as for any lost unconfirmed acknowledgement.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._publish_soon, delivery.raw.reply, payload)
        return True

    def _publish_soon(self, subject: str, payload: bytes) -> None:
        client = self._client()
        if client is None:
            return  # closed meanwhile: the server hands the message out again
        task = asyncio.get_running_loop().create_task(client.publish(subject, payload))
        task.add_done_callback(_log_failure)

    async def send(self, msg: Msg, payload: bytes, *, confirm: bool) -> None:
        """Send an acknowledgement ``payload`` for ``msg``, waiting for the reply if ``confirm``."""
        client = self._client()
        if client is None:
            raise SubscriberClosedError(f"the {self._describe} is closed")
        try:  # no context manager: this runs for every message
            if confirm:
                await client.request(msg.reply, payload, timeout=self._ack_timeout)
            else:
                await client.publish(msg.reply, payload)
        except Exception as exc:
            doing = f"sending {payload[:5].decode()} for a message"
            translated = translate_error(exc, self._url, doing)
            if translated is exc:
                raise
            raise translated from exc

    async def move_to_dead_letters(self, msg: Msg, topic: str, reason: str) -> None:
        """Publish a copy of ``msg`` to the dead-letter topic (acknowledged), then terminate it."""
        client, dead = self._client(), self.dead_letters
        if client is None:
            raise SubscriberClosedError(f"the {self._describe} is closed")
        assert dead is not None
        await publish_acknowledged(
            client,
            dead.subject,
            msg.data,
            dead_letter_headers(msg, topic, dead.durable, reason),
            self._policy,
            url=self._url,
            doing=f"moving a message of {topic!r} to {dead.topic!r}",
        )
        await self.send(msg, TERM, confirm=self.confirm_acks)

    # -- close ------------------------------------------------------------------------

    def release_all(self) -> list[Msg]:
        """Mark every unsettled delivery given back; return their messages (to ``-NAK``)."""
        with self.lock:
            released = [d for d in self._unsettled if d.outcome is DeliveryOutcome.PENDING]
            for delivery in released:
                delivery.outcome = DeliveryOutcome.RELEASED
            self._unsettled.clear()
        return [delivery.raw for delivery in released]


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("an unconfirmed acknowledgement was not sent: %s", task.exception())
