"""``RedisStreamPublisher``: one ``XADD`` per message, confirmed, with an opt-in length cap."""

from __future__ import annotations

import logging
from typing import Any

import redis

from proxyflow.api import Message, redact_url
from proxyflow.shims.redis._base import _RedisPublisherBase
from proxyflow.shims.redis._streams_server import TRIM_REPORT_VERSION, check_version
from proxyflow.shims.redis.connection import translate_errors
from proxyflow.shims.redis.exceptions import PublisherClosedError, StreamTrimmedError
from proxyflow.shims.redis.roster import JOINED, LEFT, check_producer_id, roster_key
from proxyflow.shims.redis.stream_keys import DEFAULT_STREAM_PREFIX, MESSAGE_FIELD, StreamKeys
from proxyflow.shims.redis.stream_trim import (
    ADD_CAPPED,
    TrimReport,
    describe_reports,
    parse_capped_reply,
)

__all__ = ["RedisStreamPublisher"]

log = logging.getLogger("proxyflow.shims.redis")


class RedisStreamPublisher(_RedisPublisherBase):
    """Appends each message to the Redis stream of its topic (``XADD``).

    Satisfies ``proxyflow.api.Publisher`` and ``WorkSharingPublisher``. Topic
    ``t`` is the stream ``prefix + t``; each entry has one field, ``message``.

    Behaviour:

    * **Ordering**: entries of one publisher on one topic are stored in the
      order sent (one connection, and Redis runs its commands in order).
    * **Blocking and confirmation**: by default ``send_message`` returns once
      Redis has stored the entry (one round trip). With
      ``max_unconfirmed=n > 0`` up to ``n`` adds may wait for Redis's reply
      (about one round trip saved per message); they are confirmed on later
      sends, by [`flush`][proxyflow.shims.redis.stream_publisher.RedisStreamPublisher.flush]
      and by [`close`][proxyflow.shims.redis.stream_publisher.RedisStreamPublisher.close].
      Streams are unbounded unless capped, so a send never waits for room.
    * **Honest sends**: an add Redis refuses raises the shim's error for it
      ([`PublishRejectedError`][proxyflow.shims.redis.PublishRejectedError]
      for a key of another type,
      [`BrokerFullError`][proxyflow.shims.redis.BrokerFullError] at
      ``maxmemory``,
      [`BrokerAuthenticationError`][proxyflow.shims.redis.BrokerAuthenticationError]
      for an ACL denial); a connection lost before adds were confirmed raises
      [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError]
      naming how many may be missing (at most ``max_unconfirmed``), and the
      next call reconnects. The publisher never retries a send by itself: a
      retried add could store a message twice.
    * **Multi-producer**: any number of publishers may add to a topic; one
      publisher may be shared by threads.
    * **Multi-consumer**: decided by the subscribers' consumer groups (see
      [`RedisStreamSubscriber`][proxyflow.shims.redis.stream_subscriber.RedisStreamSubscriber]).
    * **Loss**: none while Redis keeps its data (across a restart: with
      ``appendonly yes``). With ``maxlen=n`` each add trims the stream to about
      ``n`` entries (``MAXLEN ~``, whole blocks of the oldest entries, so a
      stream may hold somewhat more), whether or not the consumer groups read
      them: **that is loss**. It is reported: each trim that removed entries a
      group had not read, or had not acknowledged, is logged as a warning, kept
      in [`trim_reports`][proxyflow.shims.redis.stream_publisher.RedisStreamPublisher.trim_reports],
      and raised as [`StreamTrimmedError`][proxyflow.shims.redis.StreamTrimmedError]
      by the next ``flush()`` or ``close()`` (see
      [`stream_trim`][proxyflow.shims.redis.stream_trim]). A cap needs Redis 7.0.
    * **close()**: confirms what was sent, then closes the connection; later
      sends raise [`PublisherClosedError`][proxyflow.shims.redis.PublisherClosedError].
      Idempotent.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        prefix: Prefix of the stream keys; the key of topic ``t`` is ``prefix + t``.
        maxlen: Keep each stream near this many entries (``None``: no cap, the default).
        max_unconfirmed: Adds that may wait for Redis's confirmation (default
            ``0``: each send is confirmed before it returns).
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer.
        StreamsUnsupportedError: if ``maxlen`` is given and the server is older than 7.0.
        ValueError: if ``maxlen`` or ``max_unconfirmed`` is out of range.

    Example:
        ```python
        with RedisStreamPublisher("redis://localhost:6379") as publisher:
            publisher.send_message("jobs", b"job-1")  # stored when it returns
        ```
    """

    _label = "RedisStreamPublisher"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_STREAM_PREFIX,
        maxlen: int | None = None,
        max_unconfirmed: int = 0,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
    ) -> None:
        if maxlen is not None and (not isinstance(maxlen, int) or maxlen < 1):
            raise ValueError(f"maxlen must be an int >= 1 or None, got {maxlen!r}")
        super().__init__(
            url,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_unconfirmed=max_unconfirmed,
        )
        self._keys = StreamKeys(prefix)
        self._maxlen = maxlen
        self._reports: list[TrimReport] = []
        self._unraised: list[TrimReport] = []
        if maxlen is not None:
            try:
                with translate_errors(url, "reading the server version"):
                    try:
                        info: dict[str, Any] | None = self._client.info("server")
                    except redis.ResponseError:  # INFO refused by an ACL: no verdict
                        info = None
                check_version(info, TRIM_REPORT_VERSION, "a stream length cap (maxlen)", url)
            except BaseException:
                self._closed = True
                self._connection.disconnect()
                self._client.close()
                raise

    @property
    def prefix(self) -> str:
        """The key prefix of the streams."""
        return self._keys.prefix

    @property
    def maxlen(self) -> int | None:
        """The length cap of each stream, or ``None``."""
        return self._maxlen

    @property
    def trim_reports(self) -> tuple[TrimReport, ...]:
        """Every loss the length cap caused so far, oldest first."""
        return tuple(self._reports)

    def send_message(self, topic: str, message: Message) -> None:
        """Append ``message`` to the stream of ``topic``.

        Args:
            topic: The topic; its stream key is ``prefix + topic``.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed.
            PublishRejectedError: if Redis rejected this (or an earlier unconfirmed) message.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        payload = self._payload(topic, message)
        key = self._keys.key(topic)
        doing = f"adding to {topic!r}"
        if self._maxlen is None:
            self._send(topic, doing, "XADD", key, "*", MESSAGE_FIELD, payload)
        else:
            self._send(
                topic, doing, "EVAL", ADD_CAPPED, "1", key, str(self._maxlen), MESSAGE_FIELD,
                payload,
            )  # fmt: skip

    def _confirmed(self, topic: str, reply: Any) -> None:
        if self._maxlen is None:
            return
        _, reports = parse_capped_reply(reply, self._keys.prefix)
        if reports:
            log.warning(
                "%s at %s: the length cap (maxlen=%d) removed entries: %s",
                self._label, self.url, self._maxlen, describe_reports(reports),
            )  # fmt: skip
            self._reports += reports
            self._unraised += reports

    def flush(self) -> None:
        """Wait until Redis has confirmed every message sent so far.

        Raises:
            PublishRejectedError: if Redis answered a send with an error.
            BrokerConnectionError: if Redis cannot be reached.
            StreamTrimmedError: if the length cap removed entries a group had
                not finished since the last report (raised once per loss).
        """
        super().flush()
        with self._lock:
            reports, self._unraised = tuple(self._unraised), []
        if reports:
            raise StreamTrimmedError(
                f"Redis at {self.url}: the length cap (maxlen={self._maxlen}) removed entries "
                f"consumers had not finished: {describe_reports(reports)}; raise maxlen, add "
                "consumers, or leave streams uncapped",
                redact_url(self._url),
                reports,
            )

    def join(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` publishes on ``topic`` (``WorkSharingPublisher``).

        Idempotent; call it before the producer's first message. The roster is
        the hash ``proxyflow:roster:<stream key>``, as for the list queues (see
        [`roster`][proxyflow.shims.redis.roster]).

        Raises:
            PublisherClosedError: if the publisher was closed.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``producer_id`` not bytes.
            ValueError: if ``producer_id`` is empty.
        """
        self._record(topic, JOINED, producer_id, "joining")

    def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic``, once all are stored.

        Every earlier send is confirmed first; if one was refused, the error
        is raised and nothing is recorded, so a roster never says a producer
        is done while one of its messages is missing.
        """
        self._record(topic, LEFT, producer_id, "leaving")

    def clear_roster(self, topic: str) -> None:
        """Forget every producer of ``topic``: do it before reusing a finished topic's name."""
        self._call(f"clearing the roster of {topic!r}", "DEL", self._roster_key(topic))

    def _roster_key(self, topic: str) -> str:
        if self._closed:
            raise PublisherClosedError(f"roster change on a closed {self._label}")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a string, not {type(topic).__name__}")
        return roster_key(self._keys.key(topic))

    def _record(self, topic: str, kind: bytes, producer_id: bytes, doing: str) -> None:
        key = self._roster_key(topic)
        field = kind + check_producer_id(producer_id)
        self._call(f"{doing} the roster of {topic!r}", "HSET", key, field, b"1")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        cap = "" if self._maxlen is None else f", maxlen={self._maxlen}"
        return f"{self._label}({self.url!r}, prefix={self.prefix!r}{cap}, {state})"
