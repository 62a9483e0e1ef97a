"""How [`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer] closes.

Kept apart from the consumer's shell: `Closing` is mixed into it. Closing
settles or gives back what the consumer holds, closes the subscriber (which
wakes a caller blocked on a message), stops the prefetch thread, then drops
what was decoded and closes the stores the consumer built.
"""

from __future__ import annotations

import threading
from types import TracebackType

from proxyflow.stream._ack_types import AckMode, Outcome
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._prefetch import Prefetcher
from proxyflow.stream._source import ObjectSource
from proxyflow.stream.protocols import Subscriber

__all__ = ["Closing"]

_JOIN_TIMEOUT = 10.0
"""Seconds `StreamConsumer.close` waits for the prefetch thread to end."""


class Closing:
    """``_close`` and ``__exit__`` of a stream consumer: once, from any thread."""

    _acks: AckTracker | None
    _ack_mode: AckMode
    _close_lock: threading.Lock
    _closed: bool
    _prefetcher: Prefetcher | None
    _source: ObjectSource
    _subscriber: Subscriber

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close; on an exception, items held in auto mode are given back, not acknowledged."""
        self._close(stores=True, subscriber=True, failed=exc_type is not None)

    def _close(self, *, stores: bool, subscriber: bool, failed: bool) -> None:
        """Close once; ``failed``: a ``with`` block was left on an exception (give items back)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._source.closed = True
        if self._acks is not None:
            auto = self._ack_mode == "auto" and not failed
            self._acks.close(Outcome.ACK if auto else Outcome.NACK)
        try:
            if subscriber:
                self._subscriber.close()
        finally:
            if self._prefetcher is not None:
                # The thread notices the closed subscriber (EOFError) and ends.
                self._prefetcher.stop(_JOIN_TIMEOUT)
            self._source.release(stores=stores)
