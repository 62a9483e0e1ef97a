"""Roles of the work-sharing scenarios: producers and consumers of one shared topic.

Each role takes a ``make_publisher`` / ``make_subscriber`` callable that can be
pickled (a module-level function or a ``functools.partial`` of one), so the same
roles run in threads or in spawned processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxyflow.stream import StreamConsumer, StreamProducer

COUNT = 250
"""Objects each producer sends."""


def share_producer(
    make_publisher: Callable[[], Any], topic: str, index: int, started: Any, reports: Any
) -> None:
    """Send ``COUNT`` objects ``(index, i)`` on ``topic`` with default settings, then end it.

    ``started`` (a barrier) is passed once the first object is sent, so that
    every producer has joined the topic's roster before any of them leaves it.
    Reports ``("produced", index)`` or ``("error", text)``.
    """
    try:
        with StreamProducer(make_publisher()) as producer:
            producer.send(topic, (index, 0))
            started.wait(60)
            for i in range(1, COUNT):
                producer.send(topic, (index, i))
            producer.close_topics(topic)
        reports.put(("produced", index))
    except BaseException as exc:
        reports.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


def share_consumer(make_subscriber: Callable[[], Any], reports: Any) -> None:
    """Read the topic with a default `StreamConsumer` until it ends.

    Reports ``("consumed", [(producer, i), ...])`` or ``("error", text)``.
    """
    try:
        with StreamConsumer(make_subscriber(), timeout=60) as consumer:
            got = [tuple(obj) for obj in consumer]
        reports.put(("consumed", got))
    except BaseException as exc:
        reports.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


def queue_publisher(jobs: Any) -> Any:
    """A queue publisher of the topic ``jobs`` on ``jobs`` (picklable through a partial)."""
    from proxyflow.shims.queue import QueuePublisher

    return QueuePublisher({"jobs": jobs})


def queue_subscriber(jobs: Any) -> Any:
    """A queue subscriber of the topic ``jobs`` on ``jobs``."""
    from proxyflow.shims.queue import QueueSubscriber

    return QueueSubscriber(jobs, topics=["jobs"])
