"""What the processes and threads of an integration scenario run.

Every function here is importable by name, so it can be the target of a
process started with the ``spawn`` context.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import uuid
from dataclasses import dataclass
from typing import Any

from pfit.backends import BrokerSpec, ConnectorSpec
from proxyflow.proxy import extract, is_resolved
from proxyflow.store import Store
from proxyflow.stream import StreamConsumer, StreamProducer

DROPPED_BY_PRODUCER = 4
"""The index the producer-side filter drops."""


def make_payload(index: int, size: int) -> bytes:
    """Deterministic bytes for object ``index``."""
    seed = index.to_bytes(4, "big")
    return (seed * (size // 4 + 1))[:size]


def producer_keeps(metadata: dict[str, Any]) -> bool:
    """Producer-side filter: drops one index."""
    return bool(metadata["index"] != DROPPED_BY_PRODUCER)


def consumer_keeps(metadata: dict[str, Any]) -> bool:
    """Consumer-side filter: keeps even indexes."""
    return bool(metadata["index"] % 2 == 0)


def aggregate(objs: list[Any]) -> list[Any]:
    """Aggregator: the buffered objects as one list."""
    return list(objs)


@dataclass(frozen=True)
class Plan:
    """What a producer sends."""

    topic: str
    count: int = 8
    size: int = 256
    batch_size: int = 1
    evict: bool = True
    inline: bool = False
    store_name: str = ""
    producer_filter: bool = False
    aggregate: bool = False
    first_index: int = 0
    subscribers: int = 1  # zmq: wait until this many subscribers connected
    end_of_streams: int = (
        1  # how many producers end the topic (work sharing needs one per consumer)
    )


def _produce(broker: BrokerSpec, store: Store | None, plan: Plan, reports: Any) -> int:
    publisher = broker.publisher()
    reports.put(("ready", str(getattr(publisher, "address", ""))))
    wait = getattr(publisher, "wait_for_subscribers", None)
    if wait is not None:
        wait(plan.subscribers, timeout=20)
    producer = StreamProducer(
        publisher,
        default_store=None if plan.inline else store,
        batch_size=plan.batch_size,
        keep=producer_keeps if plan.producer_filter else None,
        aggregator=aggregate if plan.aggregate else None,
    )
    for index in range(plan.first_index, plan.first_index + plan.count):
        metadata = {"index": index, "tag": f"i{index}"}
        producer.send(
            plan.topic, make_payload(index, plan.size), evict=plan.evict, metadata=metadata
        )
    producer.close(topics=[plan.topic], publisher=False, stores=False)
    for _ in range(plan.end_of_streams - 1):  # extra end-of-streams from other producer ids
        StreamProducer(publisher).close(topics=[plan.topic], publisher=False)
    publisher.close()
    return plan.count


def run_producer(
    broker: BrokerSpec, store_source: ConnectorSpec | Store | None, plan: Plan, reports: Any
) -> None:
    """Send ``plan`` and report ``("ready", address)`` then ``("done", n)`` or ``("error", ...)``.

    ``store_source`` is a store to use (kept open), a connector spec to build
    one from (closed at the end; the data stays), or ``None`` for inline.
    """
    own: Store | None = None
    try:
        if isinstance(store_source, ConnectorSpec):
            name = plan.store_name or f"it-{uuid.uuid4().hex[:8]}"
            own = store = Store(name, store_source.build())
        else:
            store = store_source
        sent = _produce(broker, store, plan, reports)
    except BaseException as exc:
        reports.put(("error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        if own is not None:
            own.close()
    reports.put(("done", sent))


@dataclass
class Received:
    """One item a consumer got."""

    index: int
    metadata: dict[str, Any]
    value: Any
    was_proxy_unresolved: bool
    key: Any = None


def consume(
    subscriber: Any,
    *,
    keep: Any = None,
    producers_per_topic: int = 1,
    timeout: float = 20.0,
) -> list[Received]:
    """Read a stream to its end, resolving every proxy as it arrives."""
    from proxyflow.proxy import Proxy, get_factory

    got: list[Received] = []
    consumer = StreamConsumer(
        subscriber, keep=keep, timeout=timeout, producers_per_topic=producers_per_topic
    )
    with consumer:
        for metadata, item in consumer.iter_with_metadata():
            is_proxy = isinstance(item, Proxy) or type(item) is Proxy
            unresolved = is_proxy and not is_resolved(item)
            key = getattr(get_factory(item), "key", None) if is_proxy else None
            value = extract(item) if is_proxy else item
            got.append(Received(int(metadata["index"]), metadata, value, unresolved, key))
    return got


def run_consumer(
    broker: BrokerSpec, address: str, results: Any, producers_per_topic: int = 1
) -> None:
    """Process target: subscribe, report ``("subscribed", "")``, consume the stream and
    report ``("done", [(index, value), ...])``."""
    try:
        subscriber = broker.subscriber(address)
        results.put(("subscribed", ""))
        got = consume(subscriber, producers_per_topic=producers_per_topic)
        results.put(("done", [(r.index, r.value) for r in got]))
    except BaseException as exc:
        results.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


# --- full-speed ZeroMQ stream ------------------------------------------------------------


def run_fast_zmq_producer(
    topic: str, count: int, size: int, options: dict[str, Any], reports: Any
) -> None:
    """Process target: bind a ZeroMQ publisher with ``options``, wait for one subscriber,
    stream ``count`` inline objects as fast as possible (each starts with its index), end
    the topic; report ``("ready", address)`` then ``("done", count)``."""
    from proxyflow.shims.zmq import ZeroMQPublisher
    from proxyflow.stream import StreamProducer

    try:
        publisher = ZeroMQPublisher("tcp://127.0.0.1:*", **options)
        reports.put(("ready", publisher.address))
        publisher.wait_for_subscribers(1, topic, timeout=30)
        with StreamProducer(publisher) as producer:
            body = bytes(size - 8)
            for index in range(count):
                producer.send(topic, index.to_bytes(8, "big") + body)
            producer.close(topics=[topic])
        reports.put(("done", count))
    except BaseException as exc:
        reports.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


# --- the dispatcher pipeline: dispatcher and workers ---------------------------------


def run_dispatcher(
    broker: BrokerSpec, address: str, tasks: Any, reports: Any, workers: int
) -> None:
    """Consume the stream; forward each proxy's pickle to ``tasks`` without resolving it.

    Reports ``("dispatched", [(index, was_resolved, nbytes, event_bytes_so_far), ...])``.
    """
    try:
        subscriber = broker.subscriber(address)
        reports.put(("subscribed", ""))
        forwarded = []
        with StreamConsumer(subscriber, timeout=30) as consumer:
            for metadata, proxy in consumer.iter_with_metadata():
                data = pickle.dumps(proxy, protocol=pickle.HIGHEST_PROTOCOL)
                tasks.put((int(metadata["index"]), data))
                forwarded.append((int(metadata["index"]), is_resolved(proxy), len(data)))
        for _ in range(workers):
            tasks.put(None)
        reports.put(("dispatched", forwarded))
    except BaseException as exc:
        reports.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


def run_worker(tasks: Any, results: Any) -> None:
    """Resolve forwarded proxies and report ``(index, arrived_unresolved, len, digest)``."""
    import hashlib

    while True:
        try:
            task = tasks.get(timeout=60)
        except queue.Empty:
            results.put(("error", "worker waited 60s for a task"))
            return
        if task is None:
            results.put(("worker-done", None))
            return
        index, data = task
        proxy = pickle.loads(data)
        unresolved = not is_resolved(proxy)
        value = bytes(extract(proxy))
        digest = hashlib.blake2b(value, digest_size=16).hexdigest()
        results.put(("result", (index, unresolved, len(value), digest)))


def drain(q: Any) -> list[Any]:
    """Everything currently in a queue, without waiting."""
    items = []
    with contextlib.suppress(queue.Empty):
        while True:
            items.append(q.get_nowait())
    return items
