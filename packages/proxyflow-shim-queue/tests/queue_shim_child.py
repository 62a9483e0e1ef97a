"""Code run in a spawned child process (importable by name, unlike test modules)."""

from __future__ import annotations

import multiprocessing

from proxyflow.shims.queue import QueuePublisher

BIG = bytes(range(256)) * 4096


def publish(q: multiprocessing.Queue[bytes], count: int) -> None:
    with QueuePublisher({"work": q}) as publisher:
        for i in range(count):
            publisher.send_message("work", b"item-%d" % i)
        publisher.send_message("work", BIG)


def produce(q: object, producer_id: bytes, count: int) -> None:
    """A producer process: join, send ``count`` messages, leave."""
    with QueuePublisher({"work": q}) as publisher:  # type: ignore[dict-item]
        publisher.join("work", producer_id)
        for i in range(count):
            publisher.send_message("work", producer_id + b":%d" % i)
        publisher.leave("work", producer_id)


def consume(q: object, producers: int, results: multiprocessing.Queue[list[bytes]]) -> None:
    """A consumer process: read until all ``producers`` have left and nothing is left.

    A roster knows only the producers that joined so far, so a consumer waits
    for the number it expects.
    """
    from proxyflow.shims.queue import QueueSubscriber

    got: list[bytes] = []
    with QueueSubscriber(q, topics=["work"]) as subscriber:  # type: ignore[arg-type]
        while True:
            roster = subscriber.roster("work")  # type: ignore[attr-defined]
            done = roster.complete and len(roster.joined) >= producers
            try:
                got.append(subscriber.next_message(timeout=0.05))
            except TimeoutError:
                if done:
                    break
    results.put(got)
