"""The measurement protocol shared by every system: tags, flow control and the two loops.

A *channel* is one system's way of moving an object from the producer process
to the consumer process for one configuration (proxyflow, ProxyStore or the
hand-written raw baseline). Both loops here are the same for every channel, so
the systems differ only in what their channel does.

Each message carries a tag and the send time (``time.monotonic_ns()``, which
is system-wide on Linux, so it is comparable across processes):

* ``SYNC`` / ``SYNC_END``: once per pair, to get past the pub/sub slow-joiner
  problem (the producer repeats ``SYNC`` until the consumer saw one).
* ``WARM``: warm-up objects of the trial's size, not measured; they also tell
  the producer how many objects fill ``target_s`` seconds.
* ``DATA``: the throughput phase, with a window of ``window`` objects in flight.
* ``LAT``: the unloaded latency phase, one object in flight.
* ``FLUSH``: the producer waits until the consumer took everything before it.
* ``DONE``: end of the trial.

The consumer acknowledges over a one-way `multiprocessing` pipe with its
cumulative count of consumed objects (every ``ack_every`` data objects, and
after every other tagged object), which bounds what is in flight: pub/sub never
drops and the stores never fill up.
"""

from __future__ import annotations

import cProfile
import struct
import time
from multiprocessing.connection import Connection
from typing import Any, Protocol

from proxyflow_bench.spec import TrialSpec

__all__ = [
    "DATA",
    "DONE",
    "FLUSH",
    "LAT",
    "SYNC",
    "SYNC_END",
    "WARM",
    "AckReader",
    "ConsumerChannel",
    "ProducerChannel",
    "consumer_sync",
    "make_payload",
    "object_nbytes",
    "producer_sync",
    "run_consumer_trial",
    "run_producer_trial",
]

SYNC, SYNC_END, WARM, DATA, FLUSH, LAT, DONE = 1, 2, 3, 4, 5, 6, 7
_ACK = struct.Struct("<q")
_SMALL = b"s"


class ProducerChannel(Protocol):
    """The producer end of one system on one configuration."""

    bytes_sent: int
    """Total bytes this channel handed to the broker so far (events or payloads)."""

    def prepare(self, obj: Any) -> Any:
        """Return what `send` sends for the trial object (done once per trial)."""
        ...

    def send(self, obj: Any, ts_ns: int, tag: int) -> None:
        """Send ``obj`` (from `prepare`, or a small bytes object) with its time and tag."""
        ...

    def close(self) -> None:
        """Release everything."""
        ...


class ConsumerChannel(Protocol):
    """The consumer end of one system on one configuration."""

    def set_trial(self, spec: TrialSpec) -> None:
        """Learn the kind and size of the coming objects (raw channels use it)."""
        ...

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        """Return ``(resolved object, send time ns, tag)`` of the next message."""
        ...

    def close(self) -> None:
        """Release everything."""
        ...


def make_payload(kind: str, size: int, seed: int = 0) -> Any:
    """Return the trial object: ``bytes`` or a float64 numpy array of ``size`` bytes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if kind == "bytes":
        return rng.bytes(size)
    if kind == "numpy":
        return rng.random(size // 8)
    raise ValueError(f"unknown payload kind {kind!r}")


def object_nbytes(obj: Any) -> int:
    """Return the payload size of a resolved object (``nbytes`` or ``len``)."""
    nbytes = getattr(obj, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    return len(obj)


class AckReader:
    """The producer's view of the consumer's acknowledgements."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.acked = 0

    def reset(self) -> None:
        """Forget the count (a new trial starts from zero)."""
        self.acked = 0

    def drain(self) -> None:
        """Read every acknowledgement already waiting."""
        while self._conn.poll():
            self.acked = _ACK.unpack(self._conn.recv_bytes())[0]

    def wait_for(self, count: int, timeout: float) -> None:
        """Block until at least ``count`` objects were acknowledged.

        Raises:
            TimeoutError: If that did not happen within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while self.acked < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._conn.poll(remaining):
                raise TimeoutError(f"consumer acknowledged {self.acked} of {count} objects")
            self.acked = _ACK.unpack(self._conn.recv_bytes())[0]


def send_ack(conn: Connection, count: int) -> None:
    """Acknowledge ``count`` consumed objects to the producer."""
    conn.send_bytes(_ACK.pack(count))


def producer_sync(channel: ProducerChannel, acks: AckReader, timeout: float = 30.0) -> None:
    """Repeat ``SYNC`` until the consumer saw one, then send ``SYNC_END``."""
    deadline = time.monotonic() + timeout
    while True:
        channel.send(_SMALL, time.monotonic_ns(), SYNC)
        if acks._conn.poll(0.01):
            acks.drain()
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer never received a SYNC message")
    channel.send(_SMALL, time.monotonic_ns(), SYNC_END)
    acks.reset()


def consumer_sync(channel: ConsumerChannel, ack_conn: Connection, timeout: float = 30.0) -> None:
    """Wait for the first ``SYNC``, acknowledge it and skip everything up to ``SYNC_END``."""
    seen = False
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no SYNC_END from the producer")
        _, _, tag = channel.recv(remaining)
        if tag == SYNC and not seen:
            seen = True
            send_ack(ack_conn, 1)
        elif tag == SYNC_END:
            return


def _profiler(spec: TrialSpec) -> cProfile.Profile | None:
    return cProfile.Profile() if spec.profile else None


def _dump(profiler: cProfile.Profile | None, spec: TrialSpec, role: str) -> None:
    if profiler is not None:
        profiler.dump_stats(f"{spec.profile}.{role}.pstats")


def run_producer_trial(
    channel: ProducerChannel, acks: AckReader, spec: TrialSpec, timeout: float = 120.0
) -> dict[str, Any]:
    """Run one trial on the producer side and return its measurements."""
    obj = make_payload(spec.kind, spec.size, spec.seed)
    prepared = channel.prepare(obj)
    small = channel.prepare(_SMALL)
    acks.reset()
    now = time.monotonic_ns
    send = channel.send
    window = spec.window

    # Warm-up, with the same window; its rate chooses the measured count.
    t0 = time.perf_counter()
    for i in range(spec.warm):
        if i - acks.acked >= window:
            acks.wait_for(i - window + 1, timeout)
        send(prepared, now(), WARM)
    acks.wait_for(spec.warm, timeout)
    warm_s = max(time.perf_counter() - t0, 1e-6)
    count = spec.count or int(spec.target_s * spec.warm / warm_s)
    count = max(spec.min_count, min(spec.max_count, count))
    base = spec.warm

    # Throughput phase.
    profiler = _profiler(spec)
    bytes0 = channel.bytes_sent
    cpu0 = time.process_time()
    start_ns = now()
    if profiler is not None:
        profiler.enable()
    for i in range(count):
        if i - (acks.acked - base) >= window:
            acks.wait_for(base + i - window + 1, timeout)
        send(prepared, now(), DATA)
    sent_ns = now()
    event_bytes = channel.bytes_sent - bytes0
    send(small, now(), FLUSH)
    acks.wait_for(base + count + 1, timeout)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - cpu0
    _dump(profiler, spec, "producer")
    base += count + 1

    # Unloaded latency phase: one object in flight.
    lat_count = spec.latency_count or max(5, min(200, count // 4))
    for i in range(lat_count):
        send(prepared, now(), LAT)
        acks.wait_for(base + i + 1, timeout)
    send(small, now(), DONE)
    return {
        "count": count,
        "latency_count": lat_count,
        "start_ns": start_ns,
        "sent_ns": sent_ns,
        "cpu_s": cpu,
        "event_bytes": event_bytes / count,
        "warm_s": warm_s,
    }


def run_consumer_trial(
    channel: ConsumerChannel,
    ack_conn: Connection,
    spec: TrialSpec,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Run one trial on the consumer side and return its measurements."""
    channel.set_trial(spec)
    recv = channel.recv
    now = time.monotonic_ns
    ack_every = spec.ack_every
    consumed = 0
    data = 0
    wrong = 0
    data_lat: list[int] = []
    lat_lat: list[int] = []
    last_ns = 0
    cpu_start = time.process_time()
    cpu_end = cpu_start
    profiler: cProfile.Profile | None = None
    while True:
        obj, ts, tag = recv(timeout)
        done_ns = now()
        if tag == DONE:
            break
        consumed += 1
        if tag == DATA:
            if data == 0:
                profiler = _profiler(spec)
                if profiler is not None:
                    profiler.enable()
            data += 1
            data_lat.append(done_ns - ts)
            last_ns = done_ns
            if object_nbytes(obj) != spec.size:
                wrong += 1
            del obj
            if data % ack_every == 0:
                send_ack(ack_conn, consumed)
            continue
        del obj
        if tag == LAT:
            lat_lat.append(done_ns - ts)
        elif tag == FLUSH:
            if data:
                cpu_end = time.process_time()
                if profiler is not None:
                    profiler.disable()
                    _dump(profiler, spec, "consumer")
                    profiler = None
            else:  # not reached: the producer sends FLUSH only after data
                cpu_start = time.process_time()
        elif tag == WARM:
            cpu_start = time.process_time()
        send_ack(ack_conn, consumed)
    return {
        "count": data,
        "last_ns": last_ns,
        "cpu_s": cpu_end - cpu_start,
        "data_latency_ns": data_lat,
        "latency_ns": lat_lat,
        "wrong_size": wrong,
    }
