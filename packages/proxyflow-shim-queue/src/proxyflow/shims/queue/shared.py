"""Queues that several processes share, with the producers' roster of their topics."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import queue
import threading
from multiprocessing.reduction import ForkingPickler
from typing import Any

from proxyflow.shims.queue.roster import DEFAULT_ROSTER_SIZE, SharedRoster

__all__ = ["SharedQueue", "shared_queue"]


class SharedQueue(multiprocessing.queues.Queue):  # type: ignore[type-arg]
    """A ``multiprocessing.Queue`` that carries the producers' roster of its topics.

    Make it with [`shared_queue`][proxyflow.shims.queue.shared.shared_queue]
    and use it as any ``multiprocessing`` queue: pass it to the processes that
    publish and consume (as an argument of ``Process`` or a pool initializer,
    or inherited under ``fork``). Several
    [`QueueSubscriber`][proxyflow.shims.queue.QueueSubscriber] objects, in any
    of those processes, may then share its messages and still all learn when
    each topic has ended: the queue's roster (a
    [`SharedRoster`][proxyflow.shims.queue.roster.SharedRoster]) goes wherever
    the queue goes.

    One difference from ``multiprocessing.Queue``: ``put`` writes the item to
    the queue's pipe itself instead of leaving it to a background thread, so
    when ``put`` returns the item can be read by any process. That is what
    lets a producer's ``leave`` be recorded only after its messages are
    there, and a process exit never strands items in a buffer. The price:
    while the pipe is full (about 64 KiB unread), ``put`` waits for a reader
    even below ``maxsize``, as ``multiprocessing.SimpleQueue`` does; so do not
    fill a shared queue from the thread that reads it.

    Args:
        maxsize: Items the queue holds before ``put`` waits (``0``: no limit).
        ctx: The ``multiprocessing`` context.
        roster_size: Bytes of shared memory for the roster.
    """

    def __init__(self, maxsize: int = 0, *, ctx: Any, roster_size: int = DEFAULT_ROSTER_SIZE):
        super().__init__(maxsize, ctx=ctx)
        self.proxyflow_roster = SharedRoster(ctx, roster_size)
        self._thread_write_lock = threading.Lock()

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``obj`` on the queue; it is readable by any process when this returns.

        Args:
            obj: The item (picklable).
            block: Whether to wait for room when the queue holds ``maxsize`` items.
            timeout: Seconds to wait for such room (``None``: forever).

        Raises:
            queue.Full: if the queue stayed at ``maxsize`` items.
            ValueError: if the queue was closed in this process.
        """
        if self._closed:  # type: ignore[attr-defined]
            raise ValueError(f"Queue {self!r} is closed")
        data = ForkingPickler.dumps(obj)
        if not self._sem.acquire(block, timeout):  # type: ignore[attr-defined]
            raise queue.Full
        # Processes write under the queue's lock (none on Windows, whose pipes
        # keep each message whole); threads of this process under their own.
        process_lock = self._wlock  # type: ignore[attr-defined]
        try:
            with self._thread_write_lock:
                if process_lock is None:
                    self._writer.send_bytes(data)  # type: ignore[attr-defined]
                else:
                    with process_lock:
                        self._writer.send_bytes(data)  # type: ignore[attr-defined]
        except BaseException:
            self._sem.release()  # type: ignore[attr-defined]
            raise

    def __getstate__(self) -> Any:
        return (super().__getstate__(), self.proxyflow_roster)

    def __setstate__(self, state: Any) -> None:
        base, self.proxyflow_roster = state
        super().__setstate__(base)
        self._thread_write_lock = threading.Lock()


def shared_queue(
    ctx: Any = None, maxsize: int = 0, *, roster_size: int = DEFAULT_ROSTER_SIZE
) -> SharedQueue:
    """Make a queue that processes share, with the producers' roster of its topics.

    The way to build a work-sharing queue: several consumers may read it, in
    any processes, and each still knows when every producer of a topic has
    finished. Plain ``multiprocessing`` queues cannot carry a roster.

    Args:
        ctx: A ``multiprocessing`` context (``multiprocessing.get_context("spawn")``)
            or ``None`` for the default one.
        maxsize: Items the queue holds before ``put`` waits (``0``: no limit).
        roster_size: Bytes of shared memory for the roster (each producer
            entry takes about 5 bytes plus its topic and id).

    Returns:
        The queue.

    Example:
        ```python
        import multiprocessing

        from proxyflow.shims.queue import QueuePublisher, QueueSubscriber, shared_queue

        jobs = shared_queue(multiprocessing.get_context("spawn"))
        publisher = QueuePublisher({"jobs": jobs})
        publisher.join("jobs", b"producer-1")
        publisher.send_message("jobs", b"job")
        publisher.leave("jobs", b"producer-1")
        worker = QueueSubscriber(jobs, topics=["jobs"])  # in any process
        assert worker.roster("jobs").complete
        assert worker.next_message(timeout=5) == b"job"
        ```
    """
    context = multiprocessing.get_context() if ctx is None else ctx
    return SharedQueue(maxsize, ctx=context, roster_size=roster_size)
