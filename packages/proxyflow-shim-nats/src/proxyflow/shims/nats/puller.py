"""Pull requests for a set of durable consumers, all answered on one inbox subscription.

A subscriber reads each of its topics through its own durable pull consumer.
The [`Puller`][proxyflow.shims.nats.puller.Puller] asks the consumers for
messages only while a reader is waiting and nothing is buffered:

* first a ``no_wait`` request, which the server answers at once with what it
  has (then ``404``/``408`` ends it). It asks for one message at first and
  for twice as many each time a request came back full, up to ``batch``; a
  message held so long that its ``ack_wait`` nearly ran out
  ([`slow_down`][proxyflow.shims.nats.puller.Puller.slow_down]) starts again
  from one, so a subscriber never holds more than it hands out in time;
* if that found nothing, a waiting request for one message that expires after
  ``linger`` seconds, so a subscriber nobody reads holds at most one new message per topic.

Every request has its own reply subject, so the end of an old request is
never taken for the end of a newer one (deliveries keep their own subject;
their acknowledgement subject names the consumer). Requests lost with a connection are
forgotten after their expiry (or at once on reconnection) and made again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NotJSMessageError

__all__ = ["Arrivals", "PullTarget", "Pulled", "Puller"]

log = logging.getLogger("proxyflow.shims.nats")

_STATUS = "Status"
_HEARTBEAT = "100"
_CONFLICT = "409"
_GRACE = 1.0  # seconds a request may outlive its expiry before it is taken as lost


class Arrivals:
    """The flag readers wait on: set when messages arrive or a request ends.

    Like an ``asyncio.Event``, with a timed wait that needs no task of its
    own (``asyncio.wait_for(event.wait(), t)`` makes one per wait, and two
    more turns of the loop before the reader wakes).
    """

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        """Set the flag and wake every waiting reader."""
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Clear the flag."""
        self._set = False

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return self._set

    async def wait(self, timeout: float) -> None:
        """Return once the flag is set, or after ``timeout`` seconds (no error)."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._waiters:  # woken by the timer, or cancelled
                self._waiters.remove(waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass
class PullTarget:
    """One durable consumer the puller asks for messages.

    Attributes:
        topic: The topic it reads.
        name: The consumer's name.
        request_subject: ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<name>``.
    """

    topic: str
    name: str
    request_subject: str
    request_id: int = 0
    outstanding: int = 0
    received: int = 0
    probing: bool = False
    probe_size: int = 1
    last_probe_empty: bool = False
    expires_at: float = 0.0


@dataclass
class Pulled:
    """A message the server delivered, waiting to be handed out.

    Attributes:
        msg: The nats-py message (its reply subject acknowledges it).
        target: The consumer that delivered it.
        received_at: ``time.monotonic()`` on arrival.
    """

    msg: Msg
    target: PullTarget
    received_at: float = field(default_factory=time.monotonic)


class Puller:
    """Keeps the consumers' pull requests going while readers wait (see the module docs).

    Args:
        client: The connection.
        targets: The consumers.
        batch: Most messages one ``no_wait`` request asks for.
        linger: Seconds a waiting request stays open on the server.
    """

    def __init__(
        self, client: Client, targets: Sequence[PullTarget], *, batch: int, linger: float
    ) -> None:
        self._client = client
        self._targets = list(targets)
        self._by_name = {target.name: target for target in self._targets}
        self._batch = batch
        self._linger = linger
        self._expires = int(linger * 1e9)
        self._bodies: dict[int, bytes] = {}  # request bodies by size (0: the waiting request)
        self._inbox = client.new_inbox()
        self._subscription: Subscription | None = None
        self.ready: deque[Pulled] = deque()
        self.arrived = Arrivals()
        self.failure: str | None = None
        self.closing = False
        self.late: list[Msg] = []

    async def start(self) -> None:
        """Subscribe to the reply subjects of every request."""
        self._subscription = await self._client.subscribe(f"{self._inbox}.>", cb=self._on_msg)

    async def stop(self) -> None:
        """Unsubscribe; later deliveries stay pending on the server and are redelivered."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.unsubscribe()

    @property
    def reconnecting(self) -> bool:
        """Whether the connection is lost and being made again."""
        return self._client.is_reconnecting

    def forget_requests(self) -> None:
        """Take every open request as lost (after a reconnection) and wake the readers."""
        for target in self._targets:
            target.outstanding = 0
        self.arrived.set()

    async def request(self) -> None:
        """Ask every consumer without an open request for messages."""
        now = time.monotonic()
        for index, target in enumerate(self._targets):
            if target.outstanding > 0 and now < target.expires_at:
                continue
            target.request_id += 1
            target.received = 0
            reply = f"{self._inbox}.{index}.{target.request_id}"
            if target.last_probe_empty:
                body = self._bodies.get(0) or self._body(0, {"batch": 1, "expires": self._expires})
                target.outstanding, target.probing = 1, False
                target.expires_at = now + self._linger + _GRACE
            else:
                size = target.probe_size
                body = self._bodies.get(size) or self._body(size, {"batch": size, "no_wait": True})
                target.outstanding, target.probing = size, True
                target.expires_at = now + self._linger + _GRACE
            await self._client.publish(target.request_subject, body, reply=reply)

    def _body(self, key: int, body: dict[str, object]) -> bytes:
        """Encode a request body once; later requests of the same size reuse it."""
        encoded = self._bodies[key] = json.dumps(body).encode()
        return encoded

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get(_STATUS) if msg.headers else None
        if status is None:
            # A delivery keeps its own subject; its reply subject names the consumer.
            try:
                target = self._by_name[msg.metadata.consumer]
            except (NotJSMessageError, KeyError, ValueError):
                log.debug("ignoring a message that is no delivery: %s", msg.subject)
                return
            self._on_delivery(msg, target)
            return
        if status == _HEARTBEAT:
            return
        index_text, _, request_text = msg.subject[len(self._inbox) + 1 :].partition(".")
        try:
            target = self._targets[int(index_text)]
            request_id = int(request_text)
        except (ValueError, IndexError):
            return
        if request_id != target.request_id:
            return  # the end of an older request
        # The request ended: 404 no messages, 408 expired or partly served, 409 conflict.
        if target.probing:
            target.last_probe_empty = target.received == 0
        target.outstanding = 0
        if status == _CONFLICT:
            description = str(msg.headers.get("Description", "")) if msg.headers else ""
            log.debug("pull request on %s ended: 409 %s", target.name, description)
            if "deleted" in description.lower():
                self.failure = f"the consumer {target.name!r} was deleted on the server"
        self.arrived.set()

    def slow_down(self, target: PullTarget) -> None:
        """Ask ``target`` for one message at a time again (its messages waited too long)."""
        target.probe_size = 1

    def _on_delivery(self, msg: Msg, target: PullTarget) -> None:
        target.received += 1
        if target.outstanding > 0:
            target.outstanding -= 1
            if target.outstanding == 0:
                target.last_probe_empty = False
                if target.probing:  # the request came back full: ask for more next time
                    target.probe_size = min(self._batch, target.probe_size * 2)
        if self.closing:
            self.late.append(msg)
        else:
            self.ready.append(Pulled(msg, target))
        self.arrived.set()
