"""``AsyncJetStreamPublisher``: sends acknowledged by the JetStream server, on asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Callable

from nats.aio.client import Client
from proxyflow.api import AsyncOpenable, Message, as_message
from proxyflow.shims.nats.connection import ConnectOptions, NatsCredentials, open_connection
from proxyflow.shims.nats.exceptions import (
    BrokerProtocolError,
    PublisherClosedError,
    PublishNotAcknowledgedError,
    UnacknowledgedSend,
)
from proxyflow.shims.nats.publishing import (
    EXPECTED_STREAM_HEADER,
    MSG_ID_HEADER,
    PublishPolicy,
    publish_acknowledged,
)
from proxyflow.shims.nats.roster import roster_subject
from proxyflow.shims.nats.settings import DEFAULT_STREAM, StreamSettings
from proxyflow.shims.nats.streams import ensure_stream
from proxyflow.shims.nats.subjects import subject_for

__all__ = ["AsyncJetStreamPublisher", "PreparedSend"]


class PreparedSend:
    """One message ready to publish: its subject, payload, headers and place in the send order."""

    __slots__ = ("headers", "index", "payload", "subject", "topic")

    def __init__(
        self, topic: str, subject: str, payload: Message, *, index: int, msg_id: str, stream: str
    ) -> None:
        self.topic = topic
        self.subject = subject
        self.payload = payload
        self.index = index
        self.headers = {MSG_ID_HEADER: msg_id, EXPECTED_STREAM_HEADER: stream}

    def describe(self) -> str:
        """What this send is, for errors."""
        return f"publishing message #{self.index} on {self.topic!r}"


class AsyncJetStreamPublisher(AsyncOpenable):
    """Publishes messages into a JetStream stream; each send is acknowledged by the server.

    Satisfies ``proxyflow.api.AsyncPublisher``. Topic ``t`` is the subject
    ``<prefix>.<t>`` of the deployment's stream (see
    [`StreamSettings`][proxyflow.shims.nats.settings.StreamSettings]), which
    is created when missing, or checked when it exists, on
    [`open`][proxyflow.shims.nats.publisher.AsyncJetStreamPublisher.open].

    Guarantees:

    * **Honest sends** (default, ``max_pending_acks=0``): ``send_message``
      returns once the server has stored the message (its ``PubAck``). A send
      that is not acknowledged is retried with the same message id until
      ``publish_timeout``, then raises
      [`BrokerTimeoutError`][proxyflow.shims.nats.exceptions.BrokerTimeoutError];
      a full stream raises
      [`StreamFullError`][proxyflow.shims.nats.exceptions.StreamFullError].
    * **Pipelining** (``max_pending_acks=N``): ``send_message`` returns once the
      message is written, with at most ``N`` sends awaiting their
      acknowledgement; it waits while ``N`` are pending.
      [`flush`][proxyflow.shims.nats.publisher.AsyncJetStreamPublisher.flush]
      waits for all and raises
      [`PublishNotAcknowledgedError`][proxyflow.shims.nats.exceptions.PublishNotAcknowledgedError]
      naming every message the server did not acknowledge; a later
      ``send_message`` or ``close`` raises it too (sending nothing).
    * **Ordering**: messages of one publisher on one topic are stored in send
      order (a pipelined send retried after a lost connection may land after
      later ones).
    * **Multi-producer**: any number of publishers may send on a topic.

    Args:
        url: ``nats://host:port`` (several separated by commas); secrets in it
            are hidden from ``url``.
        stream: The stream name or its
            [`StreamSettings`][proxyflow.shims.nats.settings.StreamSettings].
        credentials: [`NatsCredentials`][proxyflow.shims.nats.connection.NatsCredentials].
        publish_timeout: Seconds a send may take, retries included.
        max_pending_acks: Sends that may await their acknowledgement (0: none).
        connect_timeout: Seconds a connection attempt may take.
        reconnect_time_wait: Seconds between reconnection attempts after a lost connection.
        max_reconnect_attempts: Reconnection attempts before giving up (``-1``: forever).
        name: Connection name shown by the server.

    Example:
        ```python
        async with AsyncJetStreamPublisher("nats://127.0.0.1:4222") as publisher:
            await publisher.send_message("events", b"hello")  # stored when it returns
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str | StreamSettings = DEFAULT_STREAM,
        credentials: NatsCredentials | None = None,
        publish_timeout: float = 10.0,
        max_pending_acks: int = 0,
        connect_timeout: float = 5.0,
        reconnect_time_wait: float = 1.0,
        max_reconnect_attempts: int = 60,
        name: str | None = None,
    ) -> None:
        if not isinstance(max_pending_acks, int) or max_pending_acks < 0:
            raise ValueError(f"max_pending_acks must be an int >= 0, got {max_pending_acks!r}")
        self._options = ConnectOptions(
            url,
            credentials or NatsCredentials(),
            connect_timeout,
            reconnect_time_wait,
            max_reconnect_attempts,
            name,
        )
        self._stream = StreamSettings.coerce(stream)
        self._policy = PublishPolicy(publish_timeout)
        self._max_pending = max_pending_acks
        self._client: Client | None = None
        self._open_lock: asyncio.Lock | None = None
        self._counter = itertools.count()
        self._id_prefix = ""
        self._closed = False
        self._window: asyncio.Semaphore | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._failures: list[UnacknowledgedSend] = []
        self._failures_lock = threading.Lock()
        self._retention = "limits"

    # -- properties ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server URL with its secrets hidden."""
        return self._options.safe_url

    @property
    def stream(self) -> StreamSettings:
        """The stream this publisher sends into."""
        return self._stream

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    @property
    def max_pending_acks(self) -> int:
        """How many sends may await their acknowledgement (0: every send waits)."""
        return self._max_pending

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> AsyncJetStreamPublisher:
        """Connect and create (or check) the stream; idempotent. Returns ``self``.

        Raises:
            BrokerUnavailableError: if the server cannot be reached.
            BrokerAuthenticationError: if it refuses the credentials.
            StreamConfigMismatchError: if the stream exists with other settings.
        """
        if self._closed:
            raise PublisherClosedError(f"the publisher to {self.url} is closed")
        if self._client is not None:
            return self
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._client is None:
                client = await open_connection(self._options)
                try:
                    self._retention = await ensure_stream(
                        client.jetstream(), self._stream, self.url
                    )
                except BaseException:
                    await client.close()
                    raise
                self._id_prefix = client._nuid.next().decode()
                self._window = asyncio.Semaphore(max(1, self._max_pending))
                self._client = client
        return self

    # -- sending ------------------------------------------------------------------

    def prepare(self, topic: str, message: Message) -> PreparedSend:
        """Check ``topic`` and ``message`` and number the send (callable from any thread).

        Raises:
            TypeError: if ``message`` is not bytes-like or ``topic`` not a string.
            ValueError: if ``topic`` is empty.
        """
        payload = as_message(message)
        subject = subject_for(self._stream.prefix, topic)
        index = next(self._counter)
        return PreparedSend(
            topic,
            subject,
            payload,
            index=index,
            msg_id=f"{self._id_prefix}-{index}",
            stream=self._stream.name,
        )

    async def send_message(self, topic: str, message: Message) -> None:
        """Send ``message`` on ``topic``; with ``max_pending_acks=0``, return once it is stored.

        Raises:
            PublisherClosedError: if the publisher is closed.
            PublishNotAcknowledgedError: (pipelining) earlier sends were not
                acknowledged; this message was not sent.
            BrokerTimeoutError: if the server did not acknowledge in time.
            StreamFullError: if the stream has no room.
            MessageTooLargeError: if the message is over the server's ``max_payload``.
        """
        if self._client is None or self._closed:
            await self.open()
        self.raise_failures()
        send = self.prepare(topic, message)
        if self._max_pending == 0:
            await self.publish(send)
            return
        assert self._window is not None
        if isinstance(send.payload, memoryview):
            send.payload = bytes(send.payload)  # the caller may reuse its buffer on return
        await self._window.acquire()
        self.start_publish(send, self._window.release)

    async def publish(self, send: PreparedSend) -> None:
        """Publish a prepared send and wait for its acknowledgement."""
        if self._closed or self._client is None:
            raise PublisherClosedError(f"the publisher to {self.url} is closed")
        await publish_acknowledged(
            self._client,
            send.subject,
            send.payload,
            send.headers,
            self._policy,
            url=self.url,
            doing=send.describe,  # formatted only for an error
        )

    def start_publish(self, send: PreparedSend, done: Callable[[], None]) -> None:
        """Start publishing ``send`` in the background (must run in the event loop).

        ``done`` is called when the server acknowledged it or it failed; a
        failure is kept for ``raise_failures``.
        """
        task = asyncio.get_running_loop().create_task(self.publish(send))
        self._in_flight.add(task)

        def finished(task: asyncio.Task[None]) -> None:
            self._in_flight.discard(task)
            error = task.exception() if not task.cancelled() else asyncio.CancelledError()
            if error is not None:
                msg_id = send.headers[MSG_ID_HEADER]
                failure = UnacknowledgedSend(send.topic, send.index, msg_id, error)
                with self._failures_lock:
                    self._failures.append(failure)
            done()

        task.add_done_callback(finished)

    def raise_failures(self) -> None:
        """Raise ``PublishNotAcknowledgedError`` for pipelined sends that failed, if any."""
        if not self._failures:
            return  # the common case, without the lock; a failure recorded meanwhile waits
        with self._failures_lock:
            failures, self._failures = self._failures, []
        if failures:
            failures.sort(key=lambda failure: failure.index)
            raise PublishNotAcknowledgedError(failures, self.url)

    async def flush(self) -> None:
        """Wait until every pipelined send is acknowledged or failed.

        Raises:
            PublishNotAcknowledgedError: naming each send that was not acknowledged.
        """
        while self._in_flight:
            await asyncio.wait(set(self._in_flight))
        self.raise_failures()

    # -- the producers' roster (proxyflow.api.WorkSharingPublisher) -------------------

    async def join(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` publishes on ``topic`` (idempotent; see ``roster``).

        Raises:
            BrokerProtocolError: if the stream has ``retention="interest"``,
                which cannot keep a roster.
        """
        await self.open()
        if self._retention == "interest":
            raise BrokerProtocolError(
                f"NATS at {self.url}: the stream {self._stream.name!r} has interest "
                "retention, which keeps no roster record; use retention 'limits' or "
                "'workqueue'",
                self.url,
            )
        await self._record(topic, "join", producer_id)

    async def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic``, once all are stored.

        Waits for pipelined sends first; if one was not acknowledged, raises
        ``PublishNotAcknowledgedError`` and records nothing.
        """
        await self.open()
        await self.flush()
        await self._record(topic, "leave", producer_id)

    async def _record(self, topic: str, kind: str, producer_id: bytes) -> None:
        if self._closed or self._client is None:
            raise PublisherClosedError(f"the publisher to {self.url} is closed")
        subject = roster_subject(self._stream.prefix, topic, kind, producer_id)
        headers = {MSG_ID_HEADER: subject, EXPECTED_STREAM_HEADER: self._stream.name}
        await publish_acknowledged(
            self._client,
            subject,
            b"",
            headers,
            self._policy,
            url=self.url,
            doing=f"recording {kind} of a producer on {topic!r}",
        )

    # -- close --------------------------------------------------------------------

    async def close(self) -> None:
        """Wait for pipelined sends, then close the connection; idempotent.

        Raises:
            PublishNotAcknowledgedError: if pipelined sends were not acknowledged
                (the connection is closed all the same).
        """
        if self._closed:
            return
        try:
            if self._in_flight:
                await asyncio.wait(set(self._in_flight))
        finally:
            self._closed = True
            client, self._client = self._client, None
            if client is not None:
                await close_client(client)
        self.raise_failures()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}({self.url!r}, stream={self._stream.name!r}, {state})"


async def close_client(client: Client) -> None:
    """Flush what was written and close ``client``, ignoring a server that is gone."""
    # A server that is gone leaves nothing to flush to, and a broken connection
    # still closes: neither is an error of close().
    with contextlib.suppress(Exception):
        if client.is_connected:
            await client.flush(timeout=2)
    with contextlib.suppress(Exception):
        await client.close()
