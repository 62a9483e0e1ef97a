"""Errors raised by the ZeroMQ shim.

Every error derives from [`ZeroMQShimError`][proxyflow.shims.zmq.exceptions.ZeroMQShimError],
itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError], *and*
from the built-in class the broker protocols speak of, so a caller that knows
nothing of this shim can catch ``TimeoutError``, ``EOFError``, ``OSError``,
``RuntimeError`` or ``ValueError``.

```text
ProxyflowError
 └── ZeroMQShimError
      ├── AddressInUseError          (OSError)       the bind address is taken
      ├── InvalidAddressError        (ValueError)    not an endpoint ZeroMQ accepts
      ├── InvalidTopicError          (ValueError)    a topic with a NUL character
      ├── MalformedMessageError      (ValueError)    a message not framed by this shim
      ├── SubscriberTimeoutError     (TimeoutError)  no message within the timeout
      ├── SubscriberWaitTimeoutError (TimeoutError)  too few subscribers within the timeout
      ├── SubscriberClosedError      (EOFError)      the subscriber was closed
      ├── PublisherClosedError       (RuntimeError)  send on a closed publisher
      └── WrongProcessError          (RuntimeError)  used in a process it was not created in
```

ZeroMQ has no connection failure to report: sockets connect and reconnect in
the background, so no class here is a
[`BackendUnavailableError`][proxyflow.api.exceptions.BackendUnavailableError].
A taken bind address is a local configuration problem, an ``OSError`` with
``errno.EADDRINUSE``.
"""

from __future__ import annotations

from proxyflow.api import ProxyflowError

__all__ = [
    "AddressInUseError",
    "InvalidAddressError",
    "InvalidTopicError",
    "MalformedMessageError",
    "PublisherClosedError",
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


class InvalidTopicError(ZeroMQShimError, ValueError):
    """A topic contains a NUL character, which the shim uses as the topic terminator."""


class MalformedMessageError(ZeroMQShimError, ValueError):
    """A received message was not ``[topic + NUL, payload]``: another publisher on the socket?"""


class SubscriberTimeoutError(ZeroMQShimError, TimeoutError):
    """No message arrived before the receive timeout expired."""


class SubscriberWaitTimeoutError(ZeroMQShimError, TimeoutError):
    """``wait_for_subscribers`` gave up: too few subscriptions arrived in time."""


class SubscriberClosedError(ZeroMQShimError, EOFError):
    """The subscriber was closed; no more messages will be returned."""


class PublisherClosedError(ZeroMQShimError, RuntimeError):
    """``send_message`` was called on a closed publisher."""


class WrongProcessError(ZeroMQShimError, RuntimeError):
    """A publisher or subscriber was used after ``fork`` in the child process.

    ZeroMQ contexts and sockets do not survive a fork; create the object in
    the process that uses it.
    """
