"""The generator process of the demo: the producer at the head of the pipeline.

It stores each chunk in the store and publishes a small event for it. It
talks to the main process through a status queue: ``("ready", address)`` once
its publisher exists, ``("done", bytes_produced)`` at the end, or
``("error", message)`` if anything failed.
"""

from __future__ import annotations

import multiprocessing.synchronize
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

from proxyflow.cli.backends import make_connector, make_publisher
from proxyflow.cli.chunks import make_chunk
from proxyflow.cli.options import BrokerSpec, StoreSpec
from proxyflow.store import Store
from proxyflow.stream import StreamProducer

__all__ = ["GeneratorJob", "run_generator"]


@dataclass(frozen=True)
class GeneratorJob:
    """Everything the generator process needs (picklable).

    Attributes:
        broker: Where to publish events.
        store: Where to put the chunks.
        directory: Directory of a file store without a location of its own.
        topic: The stream's topic.
        count: Number of chunks.
        size: Bytes per chunk.
        batch_size: Objects per event batch.
        timeout: Seconds to wait for the subscriber and for the go signal.
    """

    broker: BrokerSpec
    store: StoreSpec
    directory: str
    topic: str
    count: int
    size: int
    batch_size: int
    timeout: float


def _stream(job: GeneratorJob, status: Any, go: multiprocessing.synchronize.Event) -> int:
    connector = make_connector(job.store, job.directory or tempfile.gettempdir())
    store = Store(f"proxyflow-demo-{uuid.uuid4().hex[:8]}", connector)
    publisher = make_publisher(job.broker)
    producer = StreamProducer(publisher, default_store=store, batch_size=job.batch_size)
    try:
        status.put(("ready", str(getattr(publisher, "address", ""))))
        wait = getattr(publisher, "wait_for_subscribers", None)
        if wait is not None:
            wait(1, timeout=job.timeout)
        if not go.wait(job.timeout):
            raise TimeoutError(f"the dispatcher did not start within {job.timeout}s")
        produced = 0
        for index in range(job.count):
            chunk = make_chunk(index, job.size)
            producer.send(job.topic, chunk, evict=True, metadata={"index": index})
            produced += chunk.nbytes
        producer.close_topics(job.topic)
        return produced
    finally:
        producer.close()


def run_generator(job: GeneratorJob, status: Any, go: multiprocessing.synchronize.Event) -> None:
    """Stream ``job.count`` chunks, then end the topic; report through ``status``.

    Args:
        job: What to stream and where.
        status: A `multiprocessing` queue to the main process.
        go: Set by the main process once its dispatcher is ready.
    """
    try:
        produced = _stream(job, status, go)
    except BaseException as exc:  # reported to the main process, which fails cleanly
        status.put(("error", f"{type(exc).__name__}: {exc}"))
        raise SystemExit(1) from None
    status.put(("done", produced))
