"""What the producer and consumer processes of a fault scenario run.

Each role reports to the test through a queue of its own, as ``(kind, value)``
tuples, and takes orders from a second queue of its own (``"go"``, ``"stop"``),
so a process killed with ``SIGKILL`` can never leave a lock held on a queue
another process uses. A role blocks only on its broker, its store or its
orders, always with a deadline.

The consumer is a ``StreamConsumer(..., ack="manual")`` over the durable
shim: it resolves each object (with ``prefetch``, objects are resolved ahead
in the background), holds up to ``hold`` of them, and acknowledges the oldest
with ``consumer.ack(obj)``, which evicts the object. A store failure while
resolving gives the delivery back; an object is evicted only once its delivery
is acknowledged, so a consumer that dies before acknowledging leaves the
object for the redelivered event.
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

from faultkit.backends import BrokerSpec, StoreSpec

REPORT_WAIT = 60.0
"""The longest a role waits for an order from the test."""

RETRY_PAUSE = 0.05
"""Seconds between two attempts of a consumer whose broker is unreachable."""


def make_payload(index: int, size: int) -> bytes:
    """Deterministic bytes for object ``index``: its index, then filler."""
    head = index.to_bytes(4, "big")
    return head + bytes(max(size - 4, 0))


def payload_index(value: Any) -> int:
    """The index a payload made by `make_payload` starts with."""
    return int.from_bytes(bytes(value[:4]), "big")


class RoleError(RuntimeError):
    """A role waited too long for an order or for its work; it reports and stops."""


def _wait_order(control: Any, deadline: float) -> str:
    remaining = min(deadline - time.monotonic(), REPORT_WAIT)
    if remaining <= 0:
        raise RoleError("the deadline passed while waiting for an order")
    try:
        return str(control.get(timeout=remaining))
    except queue.Empty:
        raise RoleError(f"no order within {remaining:.0f}s") from None


# --- producer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProducerPlan:
    """What a producer sends, and where it waits for the test.

    Attributes:
        count: Objects to send (a multiple of ``batch_size``).
        size: Bytes per object.
        batch_size: Objects per published message (the producer's batching).
        hold_at: Before sending this index, report ``("holding", index)`` and
            wait for ``"go"``.
        block_in_publish: The n-th publish (1-based) reports ``("in-send", n)``
            and waits inside ``send_message``, before the broker sees anything,
            for ``"go"`` (the test kills the producer there).
        deadline: Seconds the whole role may take.
    """

    count: int
    size: int = 1024
    batch_size: int = 1
    hold_at: int | None = None
    block_in_publish: int | None = None
    deadline: float = 90.0


class _GatedPublisher:
    """Wraps a publisher; one chosen publish waits for the test's order first.

    ``timed_out`` records whether a publish raised a ``TimeoutError`` (the
    broker may have stored the event: the producer keeps the object).
    """

    def __init__(self, inner: Any, block_at: int | None, reports: Any, control: Any) -> None:
        self._inner = inner
        self._block_at = block_at
        self._reports = reports
        self._control = control
        self._publishes = 0
        self.timed_out = False

    def send_message(self, topic: str, message: Any) -> None:
        self._publishes += 1
        if self._publishes == self._block_at:
            self._reports.put(("in-send", self._publishes))
            _wait_order(self._control, time.monotonic() + REPORT_WAIT)
        try:
            self._inner.send_message(topic, message)
        except TimeoutError:
            self.timed_out = True
            raise

    def close(self) -> None:
        self._inner.close()


def run_producer(
    broker: BrokerSpec, store: StoreSpec, plan: ProducerPlan, reports: Any, control: Any
) -> None:
    """Send ``plan.count`` objects, then end the topic.

    Reports ``("ready", None)``; ``("sent", [index, ...])`` once a publish that
    carried those objects returned; ``("failed", ([index, ...], error))`` when
    it raised (preceded by ``("maybe-published", [index, ...])`` when the
    publish timed out: the broker may have the event, the objects were kept),
    then waits for ``"go"`` and sends the same objects again;
    ``("done", count)`` at the end; ``("error", text)`` if the role gave up.
    """
    from proxyflow.stream import StreamProducer

    deadline = time.monotonic() + plan.deadline
    try:
        publisher = _GatedPublisher(broker.publisher(), plan.block_in_publish, reports, control)
        objects = store.build()
        producer: Any = StreamProducer(publisher, default_store=objects, batch_size=plan.batch_size)
        reports.put(("ready", None))
        pending: list[int] = []
        for index in range(plan.count):
            if index == plan.hold_at:
                reports.put(("holding", index))
                _wait_order(control, deadline)
            pending.append(index)
            if len(pending) < plan.batch_size:
                payload = make_payload(index, plan.size)
                producer.send(broker.topic, payload, metadata={"index": index})
                continue
            _flush_with_retries(
                producer, publisher, broker.topic, pending, plan, reports, control, deadline
            )
            pending = []
        _retry(lambda: producer.close_topics(broker.topic), "end", reports, control, deadline)
        producer.close()
        reports.put(("done", plan.count))
    except BaseException as exc:
        reports.put(("error", f"producer: {type(exc).__name__}: {exc}"))
        raise


def _flush_with_retries(
    producer: Any,
    publisher: _GatedPublisher,
    topic: str,
    pending: list[int],
    plan: ProducerPlan,
    reports: Any,
    control: Any,
    deadline: float,
) -> None:
    """Send the last object of a batch (which publishes it); on failure, send the batch again."""
    first = True
    while True:
        publisher.timed_out = False
        try:
            for index in [pending[-1]] if first else pending:
                producer.send(topic, make_payload(index, plan.size), metadata={"index": index})
        except Exception as exc:  # the batch was dropped (evicted, unless maybe published)
            if _maybe_published(exc, publisher):
                reports.put(("maybe-published", list(pending)))
            reports.put(("failed", (list(pending), f"{type(exc).__name__}: {exc}")))
            _wait_order(control, deadline)
            first = False
            continue
        reports.put(("sent", list(pending)))
        return


def _maybe_published(exc: Exception, publisher: _GatedPublisher) -> bool:
    """Whether a failed send may still reach consumers: its publish timed out.

    The producer then keeps the object in the store and says so: a batch's
    failures say ``maybe_published``; without batching ``send()`` raises
    ``SendTimeoutError`` (a store timeout is raised as it is). The
    publisher's own record must agree. Sending it again may deliver it twice.
    """
    from proxyflow.stream import BatchSendError, SendTimeoutError

    if isinstance(exc, BatchSendError):
        said = any(failure.maybe_published for failure in exc.failures)
    else:
        said = isinstance(exc, SendTimeoutError)
    if said != publisher.timed_out:
        raise AssertionError(
            f"the producer said maybe_published={said}, but the publisher "
            f"{'timed out' if publisher.timed_out else 'did not time out'}: {exc!r}"
        )
    return said


def _retry(action: Any, what: str, reports: Any, control: Any, deadline: float) -> None:
    while True:
        try:
            action()
        except Exception as exc:
            reports.put(("failed", ([], f"{what}: {type(exc).__name__}: {exc}")))
            _wait_order(control, deadline)
            continue
        return


# --- consumer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerPlan:
    """How a consumer reads.

    Attributes:
        hold: Objects the role holds (resolved, not acknowledged) before it
            acknowledges the oldest.
        prefetch: The ``StreamConsumer``'s ``prefetch``: objects resolved
            ahead in the background.
        read_ahead: Messages the shim reads from the broker at once.
        park_after: Once this many objects are acknowledged (and objects are
            held), report ``("parked", [index, ...])`` and wait for ``"go"``
            (or to be killed).
        quiet: After ``"stop"``, seconds without a message before the role ends.
        deadline: Seconds the whole role may take.
    """

    hold: int = 1
    prefetch: int = 0
    read_ahead: int = 16
    park_after: int | None = None
    quiet: float = 2.5
    deadline: float = 90.0


class Acked(NamedTuple):
    """One acknowledged object: its index, the delivery count of its message, and
    whether it came after the consumer had seen the end of the stream."""

    index: int
    delivery_count: int
    after_end: bool


class Held(NamedTuple):
    """An object handed out by the consumer, not yet acknowledged."""

    index: int
    obj: Any
    delivery_count: int


class _Consumer:
    """The consumer role's state: the stream consumer, held objects, orders."""

    def __init__(
        self, broker: BrokerSpec, store: StoreSpec, plan: ConsumerPlan, reports: Any
    ) -> None:
        self.plan = plan
        self.reports = reports
        self.broker = broker
        self.broker_errors = broker.error_roots()
        self.store = store.build()
        self.stream: Any = self.open_stream()
        self.held: deque[Held] = deque()
        self.acked = 0
        self.parked = False
        self.stopping = False
        self.ended = False

    def read_on_after_end(self) -> None:
        """The stream ended: keep reading the group with a fresh consumer, to catch stragglers.

        A consumer that died holding deliveries of this stream leaves them
        pending in the group until the visibility timeout. A ``StreamConsumer``
        with acknowledgements ends only once its group has drained
        (``drain_group``), so it processes them before its end and nothing
        should come here; what does is counted in *after the end*.
        """
        self.close_stream()
        self.ended = True
        self.stream = self.open_stream()

    def open_stream(self) -> Any:
        """A manual-acknowledgement consumer of the group, reading through this role's store."""
        from proxyflow.stream import StreamConsumer

        return StreamConsumer(
            self.broker.subscriber(self.plan.read_ahead),
            ack="manual",
            prefetch=self.plan.prefetch,
            timeout=0.2,
            store_overrides={self.store.name: self.store},
        )

    def take(self) -> None:
        """Take the next object and hold it."""
        metadata, obj = self.stream.next_object_with_metadata()
        index = int(metadata["index"])
        if payload_index(obj) != index:
            self.reports.put(("corrupt", index))
        self.held.append(Held(index, obj, self.stream.delivery_count(obj)))

    def settle_oldest(self) -> None:
        """Acknowledge the oldest held object (which evicts it from the store)."""
        from proxyflow.stream.exceptions import ItemNotHeldError

        held = self.held[0]
        try:
            self.stream.ack(held.obj)
        except ItemNotHeldError:  # given back meanwhile: it will be delivered again
            self.held.popleft()
            return
        except (ConnectionError, TimeoutError) as exc:  # JetStream: BrokerTimeoutError too
            self.broker_error("ack", exc)
            return
        self.held.popleft()
        self.reports.put(("acked", [Acked(held.index, held.delivery_count, self.ended)]))
        self.acked += 1

    def failed(self, exc: Exception) -> None:
        """Report a failure of ``take``: a broker error, a missing object or a store error."""
        from proxyflow.stream.exceptions import StreamObjectMissingError

        if isinstance(exc, StreamObjectMissingError):  # the consumer rejected its delivery
            self.reports.put(("missing", str(exc)))
        elif isinstance(exc, self.broker_errors):
            self.broker_error("read", exc)
        else:  # the store failed: the consumer gave the delivery back
            self.reports.put(("store-error", f"{type(exc).__name__}: {exc}"))

    def broker_error(self, doing: str, exc: BaseException) -> None:
        """Report a broker failure, then pace the retry (the broker may be restarting)."""
        self.reports.put(("broker-error", f"{doing}: {type(exc).__name__}: {exc}"))
        time.sleep(RETRY_PAUSE)  # retry pacing, not synchronisation

    def park_if_due(self, control: Any, deadline: float) -> None:
        due = self.plan.park_after is not None and self.acked >= self.plan.park_after
        if due and self.held and not self.parked:
            self.parked = True
            self.reports.put(("parked", [held.index for held in self.held]))
            if _wait_order(control, deadline) == "stop":
                self.stopping = True

    def close_stream(self) -> None:
        """Close the stream consumer; report the evictions it tried again and the objects left."""
        self.stream.close(stores=False)
        stats = self.stream.stats
        if stats.evict_retries:
            self.reports.put(("evict-retried", stats.evict_retries))
        if stats.evict_failures:
            self.reports.put(("evict-failed", stats.evict_failures))

    def orders(self, control: Any) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                if control.get_nowait() == "stop":
                    self.stopping = True


def run_consumer(
    broker: BrokerSpec, store: StoreSpec, plan: ConsumerPlan, reports: Any, control: Any
) -> None:
    """Read, hold, acknowledge until told to stop and the broker is quiet.

    Reports ``("ready", None)``, ``("acked", [Acked, ...])`` per acknowledged
    object, ``("end", None)`` when the stream ended, ``("store-error", text)``,
    ``("broker-error", text)``, ``("evict-retried", count)`` (acknowledged
    objects whose eviction failed and was tried again, from
    ``stats.evict_retries``), ``("evict-failed", count)`` (acknowledged
    objects still left in the store when it closed, from
    ``stats.evict_failures``), ``("missing",
    text)`` for an event whose object is not in the store (the consumer rejects
    it), ``("parked", [index, ...])`` and ``("done", None)``. Objects are read
    through ``store`` (``store_overrides``), with its client settings.
    """
    from proxyflow.stream.exceptions import ConsumerTimeoutError

    deadline = time.monotonic() + plan.deadline
    try:
        consumer = _Consumer(broker, store, plan, reports)
        reports.put(("ready", None))
        idle_since: float | None = None
        while True:
            if time.monotonic() > deadline:
                raise RoleError(f"consumer still running after {plan.deadline}s")
            consumer.orders(control)
            consumer.park_if_due(control, deadline)
            if len(consumer.held) >= plan.hold:
                consumer.settle_oldest()
                continue
            try:
                consumer.take()
            except StopIteration:
                reports.put(("end", None))
                consumer.read_on_after_end()
            except ConsumerTimeoutError:
                if consumer.held:  # nothing more for now: settle what is held
                    consumer.settle_oldest()
                    continue
                now = time.monotonic()
                idle_since = idle_since or now
                if consumer.stopping and now - idle_since >= plan.quiet:
                    break
            except Exception as exc:
                consumer.failed(exc)
            else:
                idle_since = None
        consumer.close_stream()
        consumer.store.close()
        reports.put(("done", None))
    except BaseException as exc:
        reports.put(("error", f"consumer: {type(exc).__name__}: {exc}"))
        raise
