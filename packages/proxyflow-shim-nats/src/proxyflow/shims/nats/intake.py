"""Deciding which fetched messages a subscriber hands out.

A message fetched by the [`Puller`][proxyflow.shims.nats.puller.Puller]
waits in its buffer until a reader asks. It is handed out unless:

* it waited so long (90 % of ``ack_wait``) that the server is about to hand
  it out again, or already did: it is given back (``-NAK``) if its
  ``ack_wait`` has not run out, and the puller fetches fewer at a time;
* it was delivered once more after its last allowed delivery (its
  ``ack_wait`` expired on the ``max_deliver``-th): with a dead-letter topic it
  is moved there instead;
* the connection is lost: nothing is handed out until it is back, and then
  every message fetched before is given back (``-NAK``). The server that
  answers may have restarted and forgotten those deliveries; a confirmed
  acknowledgement of one would never be answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from proxyflow.shims.nats.deadletter import REASON_MAX_DELIVERIES
from proxyflow.shims.nats.delivery import AsyncJetStreamDelivery
from proxyflow.shims.nats.puller import Pulled, Puller
from proxyflow.shims.nats.settling import NAK, DeadLetters, Settlements

__all__ = ["Intake"]

log = logging.getLogger(__name__)

_STALE = 0.9  # fraction of ack_wait after which a fetched message is not handed out


class Intake:
    """Hands out fetched messages as deliveries, and sets aside those that must not be.

    Args:
        puller: Where fetched messages wait.
        settlements: Tracks the deliveries handed out (its lock guards the buffer too).
        ack_wait: The consumers' ``ack_wait``, in seconds.
        dead_letters: The dead-letter topic, if any.
    """

    def __init__(
        self,
        puller: Puller,
        settlements: Settlements,
        ack_wait: float,
        dead_letters: DeadLetters | None,
    ) -> None:
        self._puller = puller
        self._settlements = settlements
        self._ack_wait = ack_wait
        self._dead_letters = dead_letters

    def _stale(self, pulled: Pulled) -> bool:
        return time.monotonic() - pulled.received_at >= self._ack_wait * _STALE

    def _due_for_dead_letters(self, pulled: Pulled) -> bool:
        dead = self._dead_letters
        return dead is not None and dead.exhausted(pulled.msg.metadata.num_delivered - 1)

    def _unfit(self, pulled: Pulled) -> bool:
        return self._stale(pulled) or self._due_for_dead_letters(pulled)

    def take_ready(self, closed: Callable[[], bool]) -> AsyncJetStreamDelivery | None:
        """Return the oldest fetched message as a delivery, if it may be handed out now.

        Callable from any thread. Returns ``None`` when nothing is fetched,
        when ``closed()`` is true, or when the oldest message must be set aside
        first ([`set_aside_unfit`][proxyflow.shims.nats.intake.Intake.set_aside_unfit]).
        """
        ready = self._puller.ready
        with self._settlements.lock:
            if closed() or not ready or self._puller.reconnecting or self._unfit(ready[0]):
                return None
            pulled = ready.popleft()
            delivery = AsyncJetStreamDelivery(pulled.msg, pulled.target.topic, self._settlements)
            self._settlements.track(delivery)
            return delivery

    async def set_aside_unfit(self) -> None:
        """Give back or dead-letter the oldest fetched message if it must not be handed out."""
        ready = self._puller.ready
        with self._settlements.lock:
            if not ready or not self._unfit(ready[0]):
                return
            pulled = ready.popleft()
        if self._due_for_dead_letters(pulled):
            await self._settlements.move_to_dead_letters(
                pulled.msg, pulled.target.topic, REASON_MAX_DELIVERIES
            )
            return
        self._puller.slow_down(pulled.target)
        if time.monotonic() - pulled.received_at < self._ack_wait:
            await self._settlements.send(pulled.msg, NAK, confirm=False)

    async def give_back_fetched(self) -> None:
        """Give back every message fetched before a reconnection (see the module docs).

        A server that still holds them hands them out again at once; one that
        restarted and forgot them hands them out anyway. A give-back lost on
        the way only delays that until ``ack_wait`` runs out.
        """
        ready = self._puller.ready
        with self._settlements.lock:
            fetched = list(ready)
            ready.clear()
        for pulled in fetched:
            try:
                await self._settlements.send(pulled.msg, NAK, confirm=False)
            except Exception as exc:  # the server hands it out again after ack_wait
                log.debug("giving back a message fetched before a reconnection failed: %s", exc)
