"""The dispatcher scenario: producer -> dispatcher -> workers, proxies handed on unresolved.

The producer streams objects over ZeroMQ with a file store on ``/dev/shm``.
The dispatcher reads the stream **without resolving anything** and forwards
each object's handle to a worker over a ZeroMQ PUSH socket (round robin):
proxyflow and ProxyStore forward ``pickle.dumps(proxy)``, the raw baseline
forwards the file name. Workers resolve (read and evict) the objects and
acknowledge to the producer through the dispatcher, which bounds what is in
flight. Reported: objects/s end to end, and bytes per object through the
dispatcher (the length of what it forwards).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue as queue_module
import statistics
import struct
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from proxyflow_bench.environment import BenchResources, free_port
from proxyflow_bench.protocol import (
    DATA,
    DONE,
    AckReader,
    consumer_sync,
    make_payload,
    producer_sync,
    send_ack,
)
from proxyflow_bench.runner import open_channel
from proxyflow_bench.spec import CONFIGS, MiB, format_size, window_for

__all__ = ["run_dispatcher"]

CONFIG = "zmq-file"
_HEADER = struct.Struct("<qB")
RESULT_TIMEOUT = 120.0


class _RawIn:
    def __init__(self, env: dict[str, Any]) -> None:
        from proxyflow_bench.raw import _ZmqNotify

        self._notify = _ZmqNotify(env, "consumer")

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        header, body = self._notify.recv(timeout)
        ts, tag = _HEADER.unpack(header)
        return bytes(body), ts, tag

    @staticmethod
    def encode(handle: Any) -> bytes:
        return bytes(handle)

    def close(self) -> None:
        self._notify.close()


class _PfIn:
    def __init__(self, env: dict[str, Any]) -> None:
        from proxyflow.stream import TRUST_ALL, StreamConsumer
        from proxyflow_bench.pf import _subscriber

        self._consumer = StreamConsumer(
            _subscriber(CONFIGS[CONFIG], env),
            timeout=60,
            trusted_locations=[TRUST_ALL],  # the run's own producer, on a private topic
        )

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        metadata, item = self._consumer.next_with_metadata()
        return item, metadata["t"], metadata["g"]

    @staticmethod
    def encode(handle: Any) -> bytes:
        return pickle.dumps(handle)

    def close(self) -> None:
        self._consumer.close()


class _PsIn:
    def __init__(self, env: dict[str, Any]) -> None:
        from proxyflow_bench.ps import _add_path, _zmq_host_port

        _add_path()
        from proxystore.stream import StreamConsumer  # type: ignore[import-not-found,unused-ignore]
        from proxystore.stream.shims.zmq import ZeroMQSubscriber  # type: ignore[import-not-found,unused-ignore]

        subscriber = ZeroMQSubscriber(*_zmq_host_port(env["zmq_address"]), topic=env["topic"])
        self._consumer = StreamConsumer(subscriber)

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        metadata, item = self._consumer.next_with_metadata()
        return item, metadata["t"], metadata["g"]

    @staticmethod
    def encode(handle: Any) -> bytes:
        return pickle.dumps(handle)

    def close(self) -> None:
        self._consumer.close()


def _resolver(system: str, env: dict[str, Any]) -> Callable[[bytes], Any]:
    if system == "raw":
        directory = env["file_dir"]

        def read(body: bytes) -> Any:
            path = os.path.join(directory, body.decode())
            with open(path, "rb", buffering=0) as handle:
                data = bytearray(os.fstat(handle.fileno()).st_size)
                handle.readinto(data)
            os.unlink(path)
            return data

        return read
    if system == "proxystore":
        from proxyflow_bench.ps import _add_path

        _add_path()
        from proxystore.proxy import extract as ps_extract  # type: ignore[import-not-found,unused-ignore]

        return lambda body: ps_extract(pickle.loads(body))
    from proxyflow.proxy import extract

    return lambda body: extract(pickle.loads(body))


def _producer(
    system: str, env: dict[str, Any], spec: dict[str, Any], ack: Connection, results: Any
) -> None:
    try:
        channel = open_channel(system, CONFIG, "producer", env)
        acks = AckReader(ack)
        producer_sync(channel, acks)
        obj = channel.prepare(make_payload("bytes", spec["size"]))
        window, count = spec["window"], spec["count"]
        cpu0 = time.process_time()
        start_ns = time.monotonic_ns()
        for i in range(count):
            if i - acks.acked >= window:
                acks.wait_for(i - window + 1, RESULT_TIMEOUT)
            channel.send(obj, time.monotonic_ns(), DATA)
        channel.send(b"s", time.monotonic_ns(), DONE)
        acks.wait_for(count, RESULT_TIMEOUT)
        cpu = time.process_time() - cpu0
        results.put(("producer", {"start_ns": start_ns, "cpu_s": cpu, "count": count}))
        channel.close()
    except BaseException:
        results.put(("error", "producer:\n" + traceback.format_exc()))


def _dispatcher(
    system: str,
    env: dict[str, Any],
    addresses: list[str],
    ack: Connection,
    worker_acks: Any,
    results: Any,
) -> None:
    try:
        import zmq

        inbound: Any = {"raw": _RawIn, "proxyflow": _PfIn, "proxystore": _PsIn}[system](env)
        consumer_sync(inbound, ack)
        total = [0]

        def relay() -> None:
            while True:
                item = worker_acks.get()
                if item is None:
                    return
                total[0] += item
                send_ack(ack, total[0])

        thread = threading.Thread(target=relay, daemon=True)
        thread.start()
        ctx = zmq.Context()
        socks = []
        for address in addresses:
            sock = ctx.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 2000)
            sock.bind(address)
            socks.append(sock)
        forwarded = 0
        nbytes = 0
        sizes: set[int] = set()
        cpu0 = time.process_time()
        while True:
            handle, ts, tag = inbound.recv(60.0)
            if tag == DONE:
                for sock in socks:
                    sock.send_multipart((_HEADER.pack(ts, DONE), b""))
                break
            body = inbound.encode(handle)
            nbytes += len(body)
            sizes.add(len(body))
            socks[forwarded % len(socks)].send_multipart((_HEADER.pack(ts, tag), body))
            forwarded += 1
        cpu = time.process_time() - cpu0
        results.put(
            (
                "dispatcher",
                {
                    "count": forwarded,
                    "bytes_per_object": nbytes / max(forwarded, 1),
                    "bytes_min": min(sizes) if sizes else 0,
                    "bytes_max": max(sizes) if sizes else 0,
                    "cpu_s": cpu,
                },
            )
        )
        thread.join(timeout=RESULT_TIMEOUT)
        for sock in socks:
            sock.close()
        ctx.term()
        inbound.close()
    except BaseException:
        results.put(("error", "dispatcher:\n" + traceback.format_exc()))


def _worker(
    system: str, env: dict[str, Any], address: str, ack_every: int, worker_acks: Any, results: Any
) -> None:
    try:
        import zmq

        resolve = _resolver(system, env)
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PULL)
        sock.connect(address)
        count = 0
        pending = 0
        last_ns = 0
        wrong = 0
        cpu0 = time.process_time()
        while True:
            if not sock.poll(int(RESULT_TIMEOUT * 1000)):
                raise TimeoutError("worker got nothing from the dispatcher")
            header, body = sock.recv_multipart()
            _, tag = _HEADER.unpack(header)
            if tag == DONE:
                break
            obj = resolve(body)
            if len(obj) != env["size"]:
                wrong += 1
            del obj
            count += 1
            pending += 1
            last_ns = time.monotonic_ns()
            if pending >= ack_every:
                worker_acks.put(pending)
                pending = 0
            if count == 1:
                cpu0 = time.process_time()
        if pending:
            worker_acks.put(pending)
        results.put(
            (
                "worker",
                {
                    "count": count,
                    "last_ns": last_ns,
                    "cpu_s": time.process_time() - cpu0,
                    "wrong": wrong,
                },
            )
        )
        sock.close()
        ctx.term()
    except BaseException:
        results.put(("error", "worker:\n" + traceback.format_exc()))


def _one_run(
    system: str, size: int, count: int, workers: int, res: BenchResources, run: int
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    env: dict[str, Any] = {
        "topic": f"{res.prefix}-disp-{system}-{run}",
        "prefix": f"{res.prefix}-d{system[:2]}",
        "redis_url": res.redis_url,
        "file_dir": res.file_dir(f"dispatch-{system}-{run}"),
        "zmq_address": f"tcp://127.0.0.1:{free_port()}",
        "size": size,
    }
    window, ack_every = window_for(size)
    addresses = [f"tcp://127.0.0.1:{free_port()}" for _ in range(workers)]
    results = ctx.Queue()
    worker_acks = ctx.Queue()
    ack_recv, ack_send = ctx.Pipe(duplex=False)
    spec = {"size": size, "window": window, "count": count}
    procs = [
        ctx.Process(target=_producer, args=(system, env, spec, ack_recv, results), daemon=True),
        ctx.Process(
            target=_dispatcher,
            args=(system, env, addresses, ack_send, worker_acks, results),
            daemon=True,
        ),
    ]
    per_worker_ack = max(1, ack_every // workers)
    for address in addresses:
        procs.append(
            ctx.Process(
                target=_worker,
                args=(system, env, address, per_worker_ack, worker_acks, results),
                daemon=True,
            )
        )
    for proc in procs:
        proc.start()
    ack_recv.close()
    ack_send.close()
    got: dict[str, Any] = {"worker": []}
    error = None
    try:
        for _ in range(2 + workers):
            kind, payload = results.get(timeout=RESULT_TIMEOUT)
            if kind == "error":
                error = payload
                break
            if kind == "worker":
                got["worker"].append(payload)
            else:
                got[kind] = payload
    except queue_module.Empty:
        error = "timed out waiting for the dispatcher scenario"
    finally:
        worker_acks.put(None)
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    if error:
        return {"error": error}
    producer, dispatcher, done = got["producer"], got["dispatcher"], got["worker"]
    last_ns = max(w["last_ns"] for w in done)
    elapsed = max((last_ns - producer["start_ns"]) / 1e9, 1e-9)
    ops = producer["count"] / elapsed
    return {
        "objects_per_s": ops,
        "mb_per_s": ops * size / 1e6,
        "bytes_per_object": dispatcher["bytes_per_object"],
        "bytes_min": dispatcher["bytes_min"],
        "bytes_max": dispatcher["bytes_max"],
        "cpu_dispatcher_us": dispatcher["cpu_s"] / max(dispatcher["count"], 1) * 1e6,
        "cpu_producer_us": producer["cpu_s"] / producer["count"] * 1e6,
        "resolved": sum(w["count"] for w in done),
        "wrong_size": sum(w["wrong"] for w in done),
        "count": producer["count"],
    }


def run_dispatcher(
    options: Any,
    res: BenchResources,
    *,
    workers: int = 2,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the dispatcher scenario for each system; return one row per (system, size)."""
    say = progress or (lambda _msg: None)
    sizes = sorted({min(options.sizes), min(max(options.sizes), 1 * MiB)})
    rows = []
    run = 0
    for size in sizes:
        count = 50 if options.target_s < 0.1 else (2000 if size <= 64 * 1024 else 300)
        if options.fixed_count:
            count = options.fixed_count
        for system in options.systems:
            trials: list[dict[str, Any]] = []
            errors: list[str] = []
            for _ in range(options.repeats):
                run += 1
                out = _one_run(system, size, count, workers, res, run)
                if "error" in out:
                    errors.append(out["error"][-2000:])
                else:
                    trials.append(out)
            median = {
                key: statistics.median(t[key] for t in trials)
                for key in (
                    "objects_per_s",
                    "mb_per_s",
                    "bytes_per_object",
                    "cpu_dispatcher_us",
                    "cpu_producer_us",
                )
            } if trials else {}  # fmt: skip
            rows.append(
                {
                    "system": system,
                    "config": CONFIG,
                    "size": size,
                    "workers": workers,
                    "trials": trials,
                    "median": median,
                    "errors": errors,
                }
            )
            say(
                f"dispatcher {system} {format_size(size)}: "
                + (f"{median['objects_per_s']:.0f}/s, {median['bytes_per_object']:.0f} B/object"
                   if median else f"[red]failed[/red] {errors[-1][-300:] if errors else ''}")
            )  # fmt: skip
    return rows
