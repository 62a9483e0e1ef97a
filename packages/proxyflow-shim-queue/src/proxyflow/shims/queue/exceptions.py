"""Errors raised by the queue shim.

Every error derives from [`QueueShimError`][proxyflow.shims.queue.exceptions.QueueShimError]
*and* from the built-in class the broker protocols speak of, so code that knows
nothing of this shim can still catch ``KeyError``, ``TimeoutError``,
``EOFError`` or ``RuntimeError``.

```text
QueueShimError
 ├── UnknownTopicError      (KeyError)
 ├── QueueFullError         (TimeoutError)
 ├── SubscriberTimeoutError (TimeoutError)
 ├── SubscriberClosedError  (EOFError)
 ├── PublisherClosedError   (RuntimeError)
 └── UnexpectedItemError    (TypeError)
```
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "PublisherClosedError",
    "QueueFullError",
    "QueueShimError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "UnexpectedItemError",
    "UnknownTopicError",
]


class QueueShimError(Exception):
    """Base class of every error raised by ``proxyflow.shims.queue``."""


class UnknownTopicError(QueueShimError, KeyError):
    """A message was sent on a topic that has no queue.

    Attributes:
        topic: The topic that was asked for.
        known: The topics the publisher does know, sorted.
    """

    def __init__(self, topic: str, known: Iterable[str]) -> None:
        self.topic = topic
        self.known = tuple(sorted(known))
        super().__init__(f"unknown topic {topic!r}; known topics: {list(self.known)}")

    def __str__(self) -> str:
        # KeyError would quote the whole message; show it as written.
        return str(self.args[0])


class QueueFullError(QueueShimError, TimeoutError):
    """The topic's queue stayed full: non-blocking put, or the put timeout expired."""


class SubscriberTimeoutError(QueueShimError, TimeoutError):
    """No message arrived before the receive timeout expired."""


class SubscriberClosedError(QueueShimError, EOFError):
    """The subscriber was closed; no more messages will be returned."""


class PublisherClosedError(QueueShimError, RuntimeError):
    """``send_message`` was called on a closed publisher."""


class UnexpectedItemError(QueueShimError, TypeError):
    """The queue held something other than bytes (it is shared with other code?)."""
