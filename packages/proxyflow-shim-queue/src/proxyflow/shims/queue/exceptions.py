"""Errors raised by the queue shim.

Every error derives from [`QueueShimError`][proxyflow.shims.queue.exceptions.QueueShimError],
itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError], *and*
from the built-in class the broker protocols speak of, so code that knows
nothing of this shim can still catch ``KeyError``, ``TimeoutError``,
``EOFError`` or ``RuntimeError``. The errors ProxyStore's queue shim lets
through keep working too: a full queue is a `queue.Full`, an empty one a
`queue.Empty`, an unknown topic a ``ValueError``.

```text
ProxyflowError
 └── QueueShimError
      ├── UnknownTopicError      (KeyError, ValueError)
      ├── QueueFullError         (BackendFullError, TimeoutError, queue.Full)
      ├── QueueUnavailableError  (BackendUnavailableError, ConnectionError)
      │                          the queue is gone (closed, its manager process died)
      ├── RosterFullError        (BackendFullError)  a shared queue's roster has no room
      ├── SubscriberTimeoutError (TimeoutError, queue.Empty)
      ├── SubscriberClosedError  (EOFError)
      ├── PublisherClosedError   (RuntimeError)
      └── UnexpectedItemError    (TypeError)
```

The errors of the queues themselves never escape: a ``Manager().Queue()``
proxy whose manager process died raises ``OSError`` or ``EOFError``, a
closed ``multiprocessing`` queue ``ValueError``; the shim reports them as
``QueueUnavailableError`` (or, for a subscriber whose queue was closed in its
own process, ``SubscriberClosedError``).
"""

from __future__ import annotations

import multiprocessing.managers
import queue
from collections.abc import Iterable

from proxyflow.api import BackendFullError, BackendUnavailableError, ProxyflowError

__all__ = [
    "QUEUE_FAILURES",
    "PublisherClosedError",
    "QueueFullError",
    "QueueShimError",
    "QueueUnavailableError",
    "RosterFullError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "UnexpectedItemError",
    "UnknownTopicError",
]

QUEUE_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    multiprocessing.managers.RemoteError,
)
"""What a queue that cannot be used any more raises besides a closed queue's ``ValueError``.

A ``Manager().Queue()`` proxy whose manager process exited raises ``OSError``
(``BrokenPipeError``, ``ConnectionRefusedError``...) or ``EOFError``; one whose
call failed on the manager's side, ``RemoteError``.
"""


class QueueShimError(ProxyflowError):
    """Base class of every error raised by ``proxyflow.shims.queue``."""


class UnknownTopicError(QueueShimError, KeyError, ValueError):
    """A message was sent on a topic that has no queue.

    A ``KeyError`` (the broker protocols' unknown topic) and a ``ValueError``
    (what ProxyStore's queue shim raises).

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


class QueueFullError(QueueShimError, BackendFullError, TimeoutError, queue.Full):
    """The topic's queue stayed full: non-blocking put, or the put timeout expired."""


class QueueUnavailableError(QueueShimError, BackendUnavailableError):
    """The queue cannot be used any more: it was closed, or the process behind it is gone.

    A ``Manager().Queue()`` proxy whose manager process exited, a
    ``multiprocessing`` queue closed with its ``close()`` before a ``put``, or a
    shared roster left locked by a process that died. A ``ConnectionError``.
    """


class RosterFullError(QueueShimError, BackendFullError):
    """The shared memory of a shared queue's roster has no room for another entry.

    Make the queue with a larger ``roster_size`` (see ``shared_queue``).
    """


class SubscriberTimeoutError(QueueShimError, TimeoutError, queue.Empty):
    """No message arrived before the receive timeout expired."""


class SubscriberClosedError(QueueShimError, EOFError):
    """The subscriber, or the `multiprocessing` queue it reads, was closed.

    No more messages will be returned.
    """


class PublisherClosedError(QueueShimError, RuntimeError):
    """``send_message`` was called on a closed publisher."""


class UnexpectedItemError(QueueShimError, TypeError):
    """The queue held something other than bytes (it is shared with other code?)."""
