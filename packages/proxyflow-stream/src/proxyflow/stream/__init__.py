"""Stream objects by reference: producer, consumer, events and broker protocols.

A [`StreamProducer`][proxyflow.stream.producer.StreamProducer] puts each object
into a [`Store`][proxyflow.store.Store] and publishes a small msgpack event
through a broker [`Publisher`][proxyflow.stream.protocols.Publisher]; a
[`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer] reads the events
from a [`Subscriber`][proxyflow.stream.protocols.Subscriber] and yields lazy
[`Proxy`][proxyflow.proxy.Proxy] objects, so the bulk bytes travel only from the
store to the process that finally uses them.

From asyncio code, [`AsyncStreamProducer`][proxyflow.stream.async_producer.AsyncStreamProducer]
and [`AsyncStreamConsumer`][proxyflow.stream.async_consumer.AsyncStreamConsumer]
do the same over asyncio shims (``async with``, ``async for``, ``await
producer.send(...)``), with the same wire format.

Producers and consumers select objects by their metadata with ``keep=``
(True keeps) or with ``filter_=`` (True drops, as in ProxyStore); see
[`proxyflow.stream.filters`][proxyflow.stream.filters].

Example:
    ```python
    import queue
    from proxyflow.connectors.local import LocalConnector
    from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
    from proxyflow.store import Store
    from proxyflow.stream import StreamConsumer, StreamProducer

    q: queue.Queue[bytes] = queue.Queue()
    store = Store("example", LocalConnector())
    with StreamProducer(QueuePublisher({"numbers": q}), default_store=store) as producer:
        for i in range(3):
            producer.send("numbers", i * 10)
        producer.close_topics("numbers")
    with StreamConsumer(QueueSubscriber(q, topics=["numbers"]), timeout=5) as consumer:
        assert [proxy + 1 for proxy in consumer] == [1, 11, 21]
    ```
"""

from __future__ import annotations

from proxyflow.stream.__about__ import __version__
from proxyflow.stream._signing import SIGNING_KEY_ENV
from proxyflow.stream.async_consumer import AsyncStreamConsumer
from proxyflow.stream.async_producer import AsyncStreamProducer
from proxyflow.stream.consumer import ConsumerStats, StreamConsumer
from proxyflow.stream.events import (
    BatchEvent,
    EndOfStreamEvent,
    Event,
    NewObjectEvent,
    NewObjectKeyEvent,
    decode_event,
    encode_event,
)
from proxyflow.stream.exceptions import (
    AcknowledgementError,
    AcknowledgementsUnavailableError,
    BatchSendError,
    ConnectorNotAllowedError,
    ConsumerClosedError,
    ConsumerTimeoutError,
    EventDecodeError,
    EventEncodeError,
    EventRejectedError,
    EventsLostError,
    ForgedEventError,
    ItemNotHeldError,
    ProducerClosedError,
    ReplayedEventError,
    SendPendingError,
    SendTimeoutError,
    StreamError,
    StreamObjectMissingError,
    TamperedObjectError,
    TopicClosedError,
    UnsignedEventError,
    UntrustedLocationError,
)
from proxyflow.stream.filters import (
    Filter,
    KeyEquals,
    MetadataMatches,
    MetadataPredicate,
    NullFilter,
    SamplingFilter,
    all_of,
    any_of,
    negate,
)
from proxyflow.stream.producer import StreamProducer
from proxyflow.stream.protocols import AckingSubscriber, Delivery, Message, Publisher, Subscriber
from proxyflow.stream.results import FailedSend, SendResult
from proxyflow.stream.trust import TRUST_ALL, TRUSTED_LOCATIONS_ENV, TrustedLocation

__all__ = [
    "SIGNING_KEY_ENV",
    "TRUSTED_LOCATIONS_ENV",
    "TRUST_ALL",
    "AckingSubscriber",
    "AcknowledgementError",
    "AcknowledgementsUnavailableError",
    "AsyncStreamConsumer",
    "AsyncStreamProducer",
    "BatchEvent",
    "BatchSendError",
    "ConnectorNotAllowedError",
    "ConsumerClosedError",
    "ConsumerStats",
    "ConsumerTimeoutError",
    "Delivery",
    "EndOfStreamEvent",
    "Event",
    "EventDecodeError",
    "EventEncodeError",
    "EventRejectedError",
    "EventsLostError",
    "FailedSend",
    "Filter",
    "ForgedEventError",
    "ItemNotHeldError",
    "KeyEquals",
    "Message",
    "MetadataMatches",
    "MetadataPredicate",
    "NewObjectEvent",
    "NewObjectKeyEvent",
    "NullFilter",
    "ProducerClosedError",
    "Publisher",
    "ReplayedEventError",
    "SamplingFilter",
    "SendPendingError",
    "SendResult",
    "SendTimeoutError",
    "StreamConsumer",
    "StreamError",
    "StreamObjectMissingError",
    "StreamProducer",
    "Subscriber",
    "TamperedObjectError",
    "TopicClosedError",
    "TrustedLocation",
    "UnsignedEventError",
    "UntrustedLocationError",
    "__version__",
    "all_of",
    "any_of",
    "decode_event",
    "encode_event",
    "negate",
]
