"""What a `send()` reports: [`SendResult`][proxyflow.stream.results.SendResult] and `FailedSend`.

[`StreamProducer.send`][proxyflow.stream.producer.StreamProducer.send]
returns a `SendResult` for every object it accepts. Without batching the
object is stored and its event published before ``send()`` returns, so the
result is already done (a failure is raised by ``send()`` itself). With
``batch_size > 1`` the object waits in its topic's buffer: the result says
whether it was stored and published once the buffer is flushed, and a flush
that fails raises [`BatchSendError`][proxyflow.stream.exceptions.BatchSendError],
whose `failures` name every object it lost, as `FailedSend` records.

Example:
    ```python
    import queue
    from proxyflow.shims.queue import QueuePublisher
    from proxyflow.stream import StreamProducer

    q: queue.Queue[bytes] = queue.Queue()
    with StreamProducer(QueuePublisher({"t": q}), batch_size=4) as producer:
        result = producer.send("t", "hello")
        assert not result.done()  # still buffered
        producer.flush()
        assert result.done() and result.exception() is None
    ```
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from proxyflow.stream.exceptions import SendPendingError

__all__ = ["FailedSend", "SendResult"]


class FailedSend(NamedTuple):
    """One object a flush could not store or publish.

    Attributes:
        topic: The topic it was sent on.
        send_index: Its place among the objects this producer accepted on
            ``topic``: 0 for the first ``send()`` that returned, and so on
            (objects dropped by ``keep`` / ``filter_`` and sends that raised
            are not counted).
        obj: The object itself, to send again if wanted.
        metadata: Its metadata.
        error: Why it failed (the store's or the publisher's error).
        key: Its key in its store when the object was left there
            (``maybe_published``; for an aggregate, the aggregate's key),
            else ``None``.
        maybe_published: Whether the publisher raised a ``TimeoutError``
            (such as ``BrokerTimeoutError``): the broker may or may not have
            stored the event, so the object was not evicted and consumers may
            still receive it. Sending it again may deliver it twice; evict
            ``key`` yourself if you know the event was lost. ``False``: the
            object was not published and nothing of it is left in a store.
    """

    topic: str
    send_index: int
    obj: Any
    metadata: dict[str, Any]
    error: BaseException
    key: Any = None
    maybe_published: bool = False


_WAITERS = threading.Lock()
"""Guards the lazy creation of an `Outcome`'s event (most outcomes are never waited for)."""


class Outcome:
    """The shared fate of the objects of one buffered batch (stored and published as one).

    The event a waiter sleeps on is made only when somebody waits for a
    batch that is not settled yet, so a batch nobody waits for costs no lock.

    Args:
        flush: Flushes the batch's topic; called by a `SendResult` that is
            asked for its outcome while the batch is still buffered. ``None``
            for an asyncio producer, whose flushes are awaited: asking a
            pending result then raises `SendPendingError` instead of waiting.
    """

    __slots__ = ("_done", "_event", "error", "flush")

    def __init__(self, flush: Callable[[], None] | None) -> None:
        self._done = False
        self._event: threading.Event | None = None
        self.error: BaseException | None = None
        self.flush = flush

    def is_done(self) -> bool:
        """Whether the batch was flushed (stored and published, or failed)."""
        return self._done

    def settle(self, error: BaseException | None) -> None:
        """Record the outcome of the flush and wake every waiting result."""
        self.error = error
        self._done = True
        event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float | None) -> None:
        """Flush the topic if the batch is still buffered, then wait for the outcome.

        Raises:
            TimeoutError: If the outcome is not known within ``timeout`` seconds.
            SendPendingError: If the batch of an asyncio producer is still buffered.
        """
        if self._done:
            return
        if self.flush is None:
            raise SendPendingError(
                "this object is still in its topic's buffer: await the asyncio producer's "
                "flush_topic(topic), flush() or close() before asking for its result"
            )
        with contextlib.suppress(Exception):  # the batch's error is read from `error`
            self.flush()
        if self._done:
            return
        with _WAITERS:
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        if self._done:  # settled before the event existed: nobody will set it
            return
        if not event.wait(timeout):
            raise TimeoutError(f"the send's batch was not flushed within {timeout} seconds")


class SendResult:
    """The outcome of one [`send`][proxyflow.stream.producer.StreamProducer.send].

    Success means the object is in its store (or inside its event, for an
    inline topic) and the publisher accepted the event that names it. The
    objects of one batch share their fate: the batch is stored all or
    nothing and published as one message.

    Asking for the outcome (`result`, `exception`) of an object still in its
    topic's buffer first flushes that topic, so it never waits for a flush
    that nobody would make; `done` only looks.
    """

    __slots__ = ("_outcome",)

    def __init__(self, outcome: Outcome | None) -> None:
        self._outcome = outcome

    def done(self) -> bool:
        """Whether the outcome is known (the object is no longer buffered)."""
        outcome = self._outcome
        return outcome is None or outcome.is_done()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Return why the object was not sent, or ``None`` if it was.

        Args:
            timeout: Seconds to wait for another thread's flush (``None``: no limit).

        Raises:
            TimeoutError: If the outcome is not known within ``timeout``.
        """
        outcome = self._outcome
        if outcome is None:
            return None
        outcome.wait(timeout)
        return outcome.error

    def result(self, timeout: float | None = None) -> None:
        """Return once the object is stored and published; raise its error otherwise.

        Args:
            timeout: Seconds to wait for another thread's flush (``None``: no limit).

        Raises:
            TimeoutError: If the outcome is not known within ``timeout``.
            Exception: The store's or the publisher's error that lost the object.
        """
        error = self.exception(timeout)
        if error is not None:
            raise error

    def __repr__(self) -> str:
        if not self.done():
            return "SendResult(pending)"
        error = None if self._outcome is None else self._outcome.error
        return "SendResult(sent)" if error is None else f"SendResult(failed: {error!r})"


SENT = SendResult(None)
"""The result of every send that completed before returning (shared, immutable)."""
