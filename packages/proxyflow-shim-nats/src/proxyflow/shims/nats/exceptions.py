"""Errors raised by the NATS JetStream shim.

Every error derives from [`NatsShimError`][proxyflow.shims.nats.exceptions.NatsShimError]
(itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError]), from
the [`proxyflow.api`][proxyflow.api.exceptions] class that names the kind of
failure, and from the built-in class the broker protocols speak of. A caller
that knows nothing of NATS catches ``ConnectionError``, ``TimeoutError`` or
``EOFError``; one that knows proxyflow catches ``BackendFullError``. Errors of
nats-py never escape: they are translated here (see
[`proxyflow.shims.nats.connection`][proxyflow.shims.nats.connection]).

```text
NatsShimError (ProxyflowError)
 ├── BrokerUnavailableError     (BackendUnavailableError, ConnectionError)  unreachable / lost
 ├── BrokerTimeoutError         (BackendTimeoutError, TimeoutError)         no answer in time
 ├── BrokerAuthenticationError  (BackendAuthenticationError, PermissionError)
 ├── StreamFullError            (BackendFullError)          stream or account limits reached
 ├── MessageTooLargeError       (ObjectTooLargeError, ValueError)  over the server's max_payload
 ├── BrokerProtocolError        (BackendProtocolError)      the server refused a request
 │    ├── StreamNotFoundError                               create=False and no such stream
 │    ├── StreamConfigMismatchError   (ValueError)          existing stream differs
 │    └── ConsumerConfigMismatchError (ValueError)          existing durable consumer differs
 ├── PublishNotAcknowledgedError (BackendError)             pipelined sends not confirmed
 ├── SubscriberTimeoutError     (TimeoutError)              no message within the timeout
 ├── SubscriberClosedError      (EOFError)                  the subscriber is closed
 ├── DeliveryReleasedError      (ConnectionError)           settling after close gave it back
 ├── PublisherClosedError       (RuntimeError)              send on a closed publisher
 ├── UsedAfterForkError         (RuntimeError)              object used in a forked child
 └── InvalidBrokerURLError      (ValueError)                not a nats:// URL
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxyflow.api import (
    BackendAuthenticationError,
    BackendError,
    BackendFullError,
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    ObjectTooLargeError,
    ProxyflowError,
)

__all__ = [
    "BrokerAuthenticationError",
    "BrokerProtocolError",
    "BrokerTimeoutError",
    "BrokerUnavailableError",
    "ConsumerConfigMismatchError",
    "DeliveryReleasedError",
    "InvalidBrokerURLError",
    "MessageTooLargeError",
    "NatsShimError",
    "PublishNotAcknowledgedError",
    "PublisherClosedError",
    "StreamConfigMismatchError",
    "StreamFullError",
    "StreamNotFoundError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "UnacknowledgedSend",
    "UsedAfterForkError",
]


class NatsShimError(ProxyflowError):
    """Base class of every error raised by ``proxyflow.shims.nats``."""


class BrokerUnavailableError(NatsShimError, BackendUnavailableError):
    """The NATS server cannot be reached, or the connection was lost for good."""


class BrokerTimeoutError(NatsShimError, BackendTimeoutError):
    """The NATS server did not answer in time (a publish was not acknowledged, say).

    A send that raises this may or may not have been stored: sends carry a
    message id, so sending the same message again within the stream's
    duplicate window stores it at most once.
    """


class BrokerAuthenticationError(NatsShimError, BackendAuthenticationError):
    """The server asks for credentials that are missing, or refused the ones given."""


class StreamFullError(NatsShimError, BackendFullError):
    """The stream (or the account) reached a limit: ``max_msgs``, ``max_bytes``, storage."""


class MessageTooLargeError(NatsShimError, ObjectTooLargeError):
    """A message (with its headers) is larger than the server's ``max_payload``."""


class BrokerProtocolError(NatsShimError, BackendProtocolError):
    """The server refused a request (no JetStream, a bad stream or consumer configuration)."""


class StreamNotFoundError(BrokerProtocolError):
    """The stream does not exist and the shim was told not to create it."""


class StreamConfigMismatchError(BrokerProtocolError, ValueError):
    """The stream exists with a configuration that differs from the one asked for.

    The message names each differing setting with both values.
    """


class ConsumerConfigMismatchError(BrokerProtocolError, ValueError):
    """A durable consumer exists with settings that differ from the subscriber's.

    Every subscriber sharing a durable name must use the same settings; the
    message names each difference and how to start afresh.
    """


@dataclass(frozen=True)
class UnacknowledgedSend:
    """One pipelined send the server did not acknowledge.

    Attributes:
        topic: The topic of the message.
        index: The message's position among the publisher's sends (0 for the first).
        msg_id: The ``Nats-Msg-Id`` it carried; resending with the same id is deduplicated.
        error: What went wrong.
    """

    topic: str
    index: int
    msg_id: str
    error: BaseException


class PublishNotAcknowledgedError(NatsShimError, BackendError):
    """Pipelined sends (``max_pending_acks > 0``) that the server did not acknowledge.

    Raised by ``flush()``, ``close()`` or a later ``send_message``; the
    messages listed may be missing from the stream and should be sent again.

    Attributes:
        failures: One [`UnacknowledgedSend`][proxyflow.shims.nats.exceptions.UnacknowledgedSend]
            per message, in send order.
    """

    def __init__(self, failures: Sequence[UnacknowledgedSend], backend: str = "") -> None:
        self.failures = tuple(failures)
        shown = ", ".join(
            f"#{f.index} on {f.topic!r} ({type(f.error).__name__}: {f.error})"
            for f in self.failures[:5]
        )
        more = f" and {len(self.failures) - 5} more" if len(self.failures) > 5 else ""
        super().__init__(
            f"{len(self.failures)} message(s) not acknowledged by the server: {shown}{more}; "
            "send them again (their message ids make a resend within the duplicate window "
            "safe)",
            backend,
        )


class SubscriberTimeoutError(NatsShimError, TimeoutError):
    """No message arrived before the receive timeout expired."""


class SubscriberClosedError(NatsShimError, EOFError):
    """The subscriber was closed; no more messages will be returned."""


class DeliveryReleasedError(NatsShimError, ConnectionError):
    """The delivery's subscriber was closed, which gave the message back to the server.

    The message will be delivered again; acknowledging or rejecting it is no
    longer possible.
    """


class PublisherClosedError(NatsShimError, RuntimeError):
    """``send_message`` was called on a closed publisher."""


class UsedAfterForkError(NatsShimError, RuntimeError):
    """An object created in a parent process was used in a forked child.

    Its connection belongs to the parent's event loop thread, which does not
    exist in the child. Create a new publisher or subscriber in the child.
    """


class InvalidBrokerURLError(NatsShimError, ValueError):
    """The URL is not a ``nats://``, ``tls://``, ``ws://`` or ``wss://`` URL."""
