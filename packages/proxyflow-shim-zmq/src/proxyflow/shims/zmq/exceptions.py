"""Errors raised by the ZeroMQ shim.

Every error derives from [`ZeroMQShimError`][proxyflow.shims.zmq.exceptions.ZeroMQShimError],
itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError], *and*
from the built-in class the broker protocols speak of, so a caller that knows
nothing of this shim can catch ``TimeoutError``, ``EOFError``, ``OSError``,
``ConnectionError``, ``RuntimeError`` or ``ValueError``. Errors of pyzmq never
escape: they are translated here.

```text
ProxyflowError
 └── ZeroMQShimError
      ├── AddressInUseError          (OSError)       the bind address is taken
      ├── InvalidAddressError        (ValueError)    not an endpoint ZeroMQ accepts
      ├── InvalidContextError        (ValueError)    the context given is terminated
      ├── InvalidTopicError          (ValueError)    a topic with a NUL character
      ├── MalformedMessageError      (ValueError)    a message not framed by this shim
      ├── PublishTimeoutError        (BackendTimeoutError, TimeoutError)
      │                                              a subscriber did not make room in time
      ├── SubscriberTimeoutError     (TimeoutError)  no message within the timeout
      ├── SubscriberWaitTimeoutError (TimeoutError)  too few subscribers within the timeout
      ├── SubscriberClosedError      (EOFError)      the subscriber (or its context) was closed
      ├── PublisherClosedError       (RuntimeError)  send on a closed publisher (or context)
      ├── SocketFailedError          (BackendUnavailableError, ConnectionError)
      │                                              any other failure of a ZeroMQ call
      └── WrongProcessError          (RuntimeError)  used in a process it was not created in
```

ZeroMQ connects and reconnects in the background, so an unreachable
publisher is not an error: a subscriber simply receives nothing. A taken bind
address is a local configuration problem, an ``OSError`` with
``errno.EADDRINUSE``. A context terminated by other code (``context.term()``)
closes the publishers and subscribers using it: they raise their *closed*
error, and release their socket so that the termination can finish.
"""

from __future__ import annotations

from proxyflow.api import BackendTimeoutError, BackendUnavailableError, ProxyflowError

__all__ = [
    "AddressInUseError",
    "InvalidAddressError",
    "InvalidContextError",
    "InvalidTopicError",
    "MalformedMessageError",
    "PublishTimeoutError",
    "PublisherClosedError",
    "SocketFailedError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "SubscriberWaitTimeoutError",
    "WrongProcessError",
    "ZeroMQShimError",
]


class ZeroMQShimError(ProxyflowError):
    """Base class of every error raised by ``proxyflow.shims.zmq``."""


class AddressInUseError(ZeroMQShimError, OSError):
    """The publisher could not bind: another socket holds the address."""


class InvalidAddressError(ZeroMQShimError, ValueError):
    """The endpoint is not one ZeroMQ accepts (``tcp://host:port``, ``ipc://path``, ...)."""


class InvalidContextError(ZeroMQShimError, ValueError):
    """The ZeroMQ context given with ``context=`` is already terminated."""


class InvalidTopicError(ZeroMQShimError, ValueError):
    """A topic contains a NUL character, which the shim uses as the topic terminator."""


class MalformedMessageError(ZeroMQShimError, ValueError):
    """A received message was not ``[topic + NUL, payload]``: another publisher on the socket?"""


class PublishTimeoutError(ZeroMQShimError, BackendTimeoutError):
    """A subscriber's queue stayed full for ``send_timeout`` seconds; the message was not sent.

    Raised by ``send_message`` of a publisher with ``on_full="block"`` (the
    default) when a subscriber of the topic does not read. The message reached
    no subscriber: sending it again is safe. A ``TimeoutError``.

    Attributes:
        topic: The topic of the message that was not sent.
    """

    def __init__(self, message: str, topic: str) -> None:
        super().__init__(message)
        self.topic = topic


class SubscriberTimeoutError(ZeroMQShimError, TimeoutError):
    """No message arrived before the receive timeout expired."""


class SubscriberWaitTimeoutError(ZeroMQShimError, TimeoutError):
    """``wait_for_subscribers`` gave up: too few subscriptions arrived in time."""


class SubscriberClosedError(ZeroMQShimError, EOFError):
    """The subscriber was closed; no more messages will be returned."""


class PublisherClosedError(ZeroMQShimError, RuntimeError):
    """``send_message`` was called on a closed publisher."""


class SocketFailedError(ZeroMQShimError, BackendUnavailableError):
    """A ZeroMQ call failed for a reason the shim does not expect (out of file descriptors, ...).

    A ``ConnectionError`` and a
    [`BackendUnavailableError`][proxyflow.api.exceptions.BackendUnavailableError];
    the message names the call and ZeroMQ's reason.
    """


class WrongProcessError(ZeroMQShimError, RuntimeError):
    """A publisher or subscriber was used after ``fork`` in the child process.

    ZeroMQ contexts and sockets do not survive a fork; create the object in
    the process that uses it.
    """
