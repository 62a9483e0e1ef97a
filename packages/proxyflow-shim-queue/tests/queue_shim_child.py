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
