"""A subscriber wrapper that counts the bytes of the messages it hands out."""

from __future__ import annotations

from collections.abc import Iterator

from proxyflow.stream.protocols import Message, Subscriber

__all__ = ["CountingSubscriber"]


class CountingSubscriber:
    """Wraps a [`Subscriber`][proxyflow.stream.protocols.Subscriber] and counts what it delivers.

    It satisfies the ``Subscriber`` protocol itself, so a
    [`StreamConsumer`][proxyflow.stream.StreamConsumer] can read from it.

    Attributes:
        messages: Messages delivered so far.
        nbytes: Total bytes of those messages.

    Example:
        ```python
        counting = CountingSubscriber(subscriber)
        consumer = StreamConsumer(counting)
        ...
        print(counting.nbytes)
        ```
    """

    def __init__(self, inner: Subscriber) -> None:
        """Wrap ``inner``."""
        self._inner = inner
        self.messages = 0
        self.nbytes = 0

    def _count(self, message: Message) -> Message:
        self.messages += 1
        self.nbytes += memoryview(message).nbytes
        return message

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics of the wrapped subscriber."""
        return self._inner.topics

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        return self._count(next(self._inner))

    def next_message(self, timeout: float | None = None) -> Message:
        """Return the wrapped subscriber's next message and count it."""
        return self._count(self._inner.next_message(timeout))

    def close(self) -> None:
        """Close the wrapped subscriber."""
        self._inner.close()
