"""``AsyncJetStreamSubscriber``: durable pull consumers with acknowledgements, on asyncio."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Literal

from nats.aio.client import Client
from proxyflow.api import (
    AsyncOpenable,
    DeliveryOutcome,
    GroupBacklog,
    Message,
    Roster,
    check_timeout,
    normalise_topics,
)
from proxyflow.shims.nats._attach import attach, give_back
from proxyflow.shims.nats._waiting import wait_for_delivery
from proxyflow.shims.nats.connection import ConnectOptions, NatsCredentials, open_connection
from proxyflow.shims.nats.delivery import AsyncJetStreamDelivery
from proxyflow.shims.nats.exceptions import SubscriberClosedError
from proxyflow.shims.nats.intake import Intake
from proxyflow.shims.nats.publisher import close_client
from proxyflow.shims.nats.publishing import PublishPolicy
from proxyflow.shims.nats.puller import Puller
from proxyflow.shims.nats.roster import parse_roster, roster_filter
from proxyflow.shims.nats.settings import DEFAULT_STREAM, StreamSettings
from proxyflow.shims.nats.settling import DeadLetters, Settlements
from proxyflow.shims.nats.streams import ConsumerSettings, consumer_backlog
from proxyflow.shims.nats.subjects import check_durable, consumer_name, subject_for
from proxyflow.shims.nats.translation import translate_errors

__all__ = ["AsyncJetStreamSubscriber"]


class AsyncJetStreamSubscriber(AsyncOpenable):
    """Reads topics through durable JetStream pull consumers; deliveries are acknowledged.

    Satisfies ``proxyflow.api.AsyncAckingSubscriber`` (and so
    ``AsyncSubscriber``), ``AsyncWorkSharingSubscriber`` and
    ``AsyncDrainableSubscriber``. Each topic is read through the durable consumer
    ``<durable>_<topic>`` of the stream, created on
    [`open`][proxyflow.shims.nats.subscriber.AsyncJetStreamSubscriber.open]
    when missing, or checked when it exists.

    Guarantees:

    * **Multi-consumer**: subscribers sharing a ``durable`` name share the work
      (each message goes to one of them); each durable name gets every message
      (fan-out between services).
    * **At-least-once**: a message stays with the server until acknowledged.
      A delivery not settled within ``ack_wait`` seconds (its reader crashed or
      is slow) is handed out again, to any subscriber of the durable;
      ``close()`` gives back the deliveries it still holds at once.
    * **Ordering**: first deliveries of one topic come in stream order;
      redeliveries come when they are due, after later messages.
    * **Flow control**: the server hands out at most ``max_ack_pending``
      unsettled messages per topic and durable; a subscriber fetches only
      while a reader waits and nothing fetched is left, one message at first
      and up to ``batch`` while the reader keeps up.
    * **Dead letters**: see [`proxyflow.shims.nats.deadletter`][proxyflow.shims.nats.deadletter].
    * Plain ``next_message`` and ``async for`` acknowledge each message as they
      return it (at-most-once for the caller).

    Args:
        url: ``nats://host:port`` (several separated by commas).
        topics: The topics to read.
        durable: The durable name (letters, digits, ``-``, ``_``): the group
            that shares the work.
        stream: The stream name or its
            [`StreamSettings`][proxyflow.shims.nats.settings.StreamSettings].
        ack_wait: Seconds before an unsettled delivery is handed out again.
        max_deliver: Deliveries before the server gives up on a message (``None``: no limit).
        max_ack_pending: Unsettled deliveries the server allows per topic (flow control).
        batch: Most messages fetched in one request.
        timeout: What ``async for`` waits per message (``None``: forever).
        deliver_policy: Where a new durable starts: ``"all"`` (the oldest
            message held) or ``"new"``.
        dead_letter_topic: Topic that receives rejected and exhausted messages
            (``None``: they are dropped, see the dead-letter docs).
        confirm_acks: Wait for the server to confirm each ``ack`` and ``reject``
            (``False``: send them without waiting; faster, and a lost
            acknowledgement only means a redelivery).
        credentials: [`NatsCredentials`][proxyflow.shims.nats.connection.NatsCredentials].
        publish_timeout: Seconds a dead-letter copy may take to be stored.
        ack_timeout: Seconds a confirmed acknowledgement may take.
        connect_timeout: Seconds a connection attempt may take.
        reconnect_time_wait: Seconds between reconnection attempts.
        max_reconnect_attempts: Reconnection attempts before giving up (``-1``: forever).
        name: Connection name shown by the server.

    Example:
        ```python
        async with AsyncJetStreamSubscriber(url, ["jobs"], durable="workers") as subscriber:
            delivery = await subscriber.next_delivery(timeout=5.0)
            handle(delivery.message)
            await delivery.ack()
        ```
    """

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        durable: str,
        stream: str | StreamSettings = DEFAULT_STREAM,
        ack_wait: float = 30.0,
        max_deliver: int | None = None,
        max_ack_pending: int = 1000,
        batch: int = 64,
        timeout: float | None = None,
        deliver_policy: Literal["all", "new"] = "all",
        dead_letter_topic: str | None = None,
        confirm_acks: bool = True,
        credentials: NatsCredentials | None = None,
        publish_timeout: float = 10.0,
        ack_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        reconnect_time_wait: float = 1.0,
        max_reconnect_attempts: int = 60,
        name: str | None = None,
    ) -> None:
        check_timeout(timeout)
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {batch!r}")
        if not ack_timeout > 0:
            raise ValueError(f"ack_timeout must be > 0, got {ack_timeout!r}")
        self._topics = normalise_topics(topics)
        if not self._topics:
            raise ValueError("a subscriber needs at least one topic")
        self._durable = check_durable(durable)
        self._stream = StreamSettings.coerce(stream)
        self._consumer = ConsumerSettings(ack_wait, max_deliver, max_ack_pending, deliver_policy)
        self._dead_letters = (
            None
            if dead_letter_topic is None
            else DeadLetters(
                dead_letter_topic,
                subject_for(self._stream.prefix, dead_letter_topic),
                self._durable,
                max_deliver,
            )
        )
        self._options = ConnectOptions(
            url,
            credentials or NatsCredentials(),
            connect_timeout,
            reconnect_time_wait,
            max_reconnect_attempts,
            name,
        )
        self._batch = batch
        self._timeout = timeout
        self._client: Client | None = None
        self._puller: Puller | None = None
        self._intake: Intake | None = None
        self._open_lock: asyncio.Lock | None = None
        self._settlements = Settlements(
            lambda: self._client,
            url=self._options.safe_url,
            describe=f"subscriber of {list(self._topics)}",
            confirm_acks=confirm_acks,
            ack_timeout=ack_timeout,
            dead_letters=self._dead_letters,
            policy=PublishPolicy(publish_timeout),
        )
        self._closed = False
        self._closing: asyncio.Future[None] | None = None
        self._lost = False
        self._readers = 0
        self._readers_gone: asyncio.Event | None = None

    # -- properties ---------------------------------------------------------------

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads."""
        return self._topics

    @property
    def url(self) -> str:
        """The server URL with its secrets hidden."""
        return self._options.safe_url

    @property
    def durable(self) -> str:
        """The durable name shared by the subscribers that share the work."""
        return self._durable

    @property
    def stream(self) -> StreamSettings:
        """The stream read."""
        return self._stream

    @property
    def consumer_names(self) -> tuple[str, ...]:
        """The names of the durable consumers, one per topic, in topic order."""
        return tuple(consumer_name(self._durable, topic) for topic in self._topics)

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> AsyncJetStreamSubscriber:
        """Connect, create or check the stream and consumers, and subscribe; idempotent.

        A message sent after this returns reaches this subscriber's durable.

        Raises:
            SubscriberClosedError: if the subscriber is closed.
            BrokerUnavailableError: if the server cannot be reached.
            StreamConfigMismatchError: if the stream exists with other settings.
            ConsumerConfigMismatchError: if a durable consumer exists with other settings.
        """
        self._check_open()
        if self._puller is not None:
            return self
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._puller is None:
                client = await open_connection(
                    self._options, on_reconnected=self._on_reconnected, on_closed=self._on_lost
                )
                try:
                    self._puller = await attach(
                        client,
                        stream=self._stream,
                        topics=self._topics,
                        durable=self._durable,
                        consumer=self._consumer,
                        dead_letters=self._dead_letters,
                        batch=self._batch,
                        url=self.url,
                    )
                except BaseException:
                    await client.close()
                    raise
                self._intake = Intake(
                    self._puller, self._settlements, self._consumer.ack_wait, self._dead_letters
                )
                self._client = client
                self._settlements.bind(asyncio.get_running_loop())
        return self

    async def _on_reconnected(self) -> None:
        if self._intake is not None:
            await self._intake.give_back_fetched()
        if self._puller is not None:
            self._puller.forget_requests()

    async def _on_lost(self) -> None:
        if not self._closed and self._puller is not None:
            self._lost = True
            self._puller.arrived.set()

    def _check_open(self) -> None:
        if self._closed:
            raise SubscriberClosedError(f"the subscriber of {list(self._topics)} is closed")

    # -- receiving ----------------------------------------------------------------

    async def next_delivery(self, timeout: float | None = None) -> AsyncJetStreamDelivery:
        """Return the next delivery, waiting at most ``timeout`` seconds (``None``: forever).

        Raises:
            SubscriberTimeoutError: (a ``TimeoutError``) if nothing arrived in time.
            SubscriberClosedError: (an ``EOFError``) if the subscriber is or gets closed.
            BrokerUnavailableError: if the connection is lost for good.
        """
        check_timeout(timeout)
        await self.open()
        self._readers += 1
        try:
            return await self._next_delivery(timeout)
        finally:
            self._readers -= 1
            if self._readers == 0 and self._readers_gone is not None:
                self._readers_gone.set()

    async def _next_delivery(self, timeout: float | None) -> AsyncJetStreamDelivery:
        puller, intake = self._puller, self._intake
        assert puller is not None
        assert intake is not None
        return await wait_for_delivery(
            puller,
            intake,
            timeout,
            check_open=self._check_open,
            lost=lambda: self._lost,
            take_ready=self.take_ready,
            url=self.url,
            reading=str(list(self._topics)),
        )

    def take_ready(self) -> AsyncJetStreamDelivery | None:
        """Hand out the oldest fetched message at once, if it may be (callable from any thread).

        See [`Intake.take_ready`][proxyflow.shims.nats.intake.Intake.take_ready].
        """
        intake = self._intake
        return None if intake is None else intake.take_ready(lambda: self._closed)

    def settle_nowait(
        self, delivery: AsyncJetStreamDelivery, outcome: DeliveryOutcome, delay: float | None
    ) -> bool:
        """Settle ``delivery`` from any thread without waiting, if its outcome needs no answer.

        See [`Settlements.settle_nowait`][proxyflow.shims.nats.settling.Settlements.settle_nowait].
        """
        return self._settlements.settle_nowait(delivery, outcome, delay)

    async def next_message(self, timeout: float | None = None) -> Message:
        """Return the next message, acknowledged on receipt (see ``next_delivery``)."""
        delivery = await self.next_delivery(timeout)
        await delivery.ack()
        return delivery.message

    def __aiter__(self) -> AsyncJetStreamSubscriber:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.next_message(self._timeout)
        except EOFError:
            raise StopAsyncIteration from None

    # -- the producers' roster (proxyflow.api.WorkSharingSubscriber) ------------------

    async def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` so far (one server request).

        See [`proxyflow.shims.nats.roster`][proxyflow.shims.nats.roster].
        """
        await self.open()
        client = self._client
        assert client is not None
        prefix = self._stream.prefix
        with translate_errors(self.url, f"reading the roster of {topic!r}"):
            info = await client.jetstream().stream_info(
                self._stream.name, subjects_filter=roster_filter(prefix, topic)
            )
        return parse_roster(info.state.subjects or {}, prefix, topic)

    async def backlog(self, topic: str) -> GroupBacklog:
        """Return what the durable has left of ``topic`` (``AsyncDrainableSubscriber``).

        One consumer-info request: ``num_pending`` and ``num_ack_pending``
        (see [`consumer_backlog`][proxyflow.shims.nats.streams.consumer_backlog]).

        Raises:
            ValueError: if this subscriber does not read ``topic``.
        """
        if topic not in self._topics:
            raise ValueError(f"the subscriber of {list(self._topics)} does not read {topic!r}")
        await self.open()
        assert self._client is not None
        name = consumer_name(self._durable, topic)
        return await consumer_backlog(self._client.jetstream(), self._stream.name, name, self.url)

    # -- close --------------------------------------------------------------------

    async def close(self) -> None:
        """Give back unsettled deliveries, stop receiving and close the connection; idempotent.

        A reader waiting in ``next_delivery`` raises ``SubscriberClosedError``
        at once. Deliveries not yet settled are given back to the server
        (``-NAK``) and will be delivered again, to this durable's other subscribers.
        """
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closed = True
        self._closing = asyncio.get_running_loop().create_future()
        try:
            client = self._client
            await give_back(client, self._puller, self._settlements)
            self._client = None
            if client is not None:
                await close_client(client)
            if self._readers:
                # Let waiting readers see the close (they raise SubscriberClosedError)
                # before the caller may stop the event loop.
                self._readers_gone = asyncio.Event()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._readers_gone.wait(), 2.0)
        finally:
            self._closing.set_result(None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"{type(self).__name__}({self.url!r}, topics={list(self._topics)}, "
            f"durable={self._durable!r}, stream={self._stream.name!r}, {state})"
        )
