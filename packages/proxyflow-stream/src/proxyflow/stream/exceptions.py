"""Errors raised by [`proxyflow.stream`][proxyflow.stream].

Every error of this package derives from [`StreamError`][proxyflow.stream.exceptions.StreamError],
itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError], the root
of every proxyflow error. Where a built-in class describes the failure too,
the error also derives from it, so callers may catch either:

```text
ProxyflowError
 └── StreamError
      ├── TopicClosedError
      ├── ProducerClosedError
      ├── ConsumerClosedError
      ├── ConnectorNotAllowedError
      ├── EventEncodeError          (also TypeError)
      ├── EventDecodeError          (also ValueError)
      ├── ConsumerTimeoutError      (also TimeoutError)
      └── StreamObjectMissingError  (also proxyflow.store.ObjectMissingError,
                                     a KeyError, and ValueError as in ProxyStore)
```

Errors raised by the store layer (for example
[`proxyflow.store.UnknownConnectorError`][proxyflow.store.UnknownConnectorError]
when an event names a connector kind that is not installed) and by the broker
shim (``ConnectionError`` subclasses) propagate unchanged.
"""

from __future__ import annotations

from proxyflow.api import ProxyflowError
from proxyflow.store import ObjectMissingError

__all__ = [
    "ConnectorNotAllowedError",
    "ConsumerClosedError",
    "ConsumerTimeoutError",
    "EventDecodeError",
    "EventEncodeError",
    "ProducerClosedError",
    "StreamError",
    "StreamObjectMissingError",
    "TopicClosedError",
]


class StreamError(ProxyflowError):
    """Base class of every error raised by [`proxyflow.stream`][proxyflow.stream]."""


class TopicClosedError(StreamError):
    """An object was sent on a topic that this producer already closed.

    A topic is closed by [`close_topics`][proxyflow.stream.producer.StreamProducer.close_topics]
    (or ``close(topics=...)``), which sends its end-of-stream event; a producer
    cannot reopen it.
    """


class ProducerClosedError(StreamError):
    """A [`StreamProducer`][proxyflow.stream.StreamProducer] was used after ``close()``."""


class ConsumerClosedError(StreamError):
    """A [`StreamConsumer`][proxyflow.stream.StreamConsumer] was used after ``close()``."""


class ConnectorNotAllowedError(StreamError):
    """An event names a connector kind outside the consumer's ``allowed_connectors``.

    The consumer refuses to build a store for it; the object stays where the
    producer stored it.
    """


class EventEncodeError(StreamError, TypeError):
    """An event (usually its metadata) cannot be encoded with msgpack.

    Metadata must be a ``dict`` with ``str`` keys whose values msgpack can
    carry (``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists and
    ``str``-keyed dicts of these). The producer checks metadata in ``send()``,
    before anything is stored, so a bad value never leaves an orphaned object.
    """


class EventDecodeError(StreamError, ValueError):
    """A message is not a valid event.

    Raised for malformed or truncated msgpack, trailing bytes, fields of the
    wrong type, an unknown format version or event type, and an inline payload
    that its serializer cannot read. It never escapes as a bare msgpack error.
    """


class ConsumerTimeoutError(StreamError, TimeoutError):
    """No message arrived within the consumer's ``timeout`` (seconds, per message)."""


class StreamObjectMissingError(StreamError, ObjectMissingError, ValueError):
    """An event points at a key that no longer holds an object.

    Raised by the consumer's ``next_object*`` methods, for example when another
    consumer already read an object that was sent with ``evict=True``. It is
    also a ``ValueError``, the class ProxyStore's ``next_object`` raises in
    this case, so ``except ValueError`` written for ProxyStore still catches it.
    """
