"""Hand-written baselines: the best a careful user gets without proxyflow.

* inline: the payload itself through the broker (pyzmq multipart frames sent
  and received without copies above 64 KiB; one Redis ``PUBLISH`` of a buffer
  prepared once per trial with room for the header).
* claim-check by hand: the payload into the store, then a small message with
  its key through the broker; the consumer reads and removes it in one step
  (Redis ``SET`` + ``PUBLISH``/``RPUSH`` of the key, then ``GETDEL``; or a file
  written in one ``os.write`` + notify, then ``readinto`` + ``unlink``).

Numpy payloads are sent as their raw buffer and rebuilt with ``np.frombuffer``
(the consumer knows dtype and shape from the trial), which is the cheapest
correct hand-written path.
"""

from __future__ import annotations

import itertools
import os
import struct
import time
from typing import Any

from proxyflow_bench.spec import Config, TrialSpec

__all__ = ["open_raw_consumer", "open_raw_producer"]

_HEADER = struct.Struct("<qB")  # send time ns, tag
_ZMQ_COPY_THRESHOLD = 64 * 1024


def _as_buffer(obj: Any) -> Any:
    """Return a flat byte view of a bytes object or numpy array (no copy)."""
    if isinstance(obj, bytes):
        return obj
    return memoryview(obj).cast("B")


def _rebuild(buf: Any, kind: str, size: int) -> Any:
    """Turn received bytes into the trial object (small control messages stay bytes)."""
    if kind == "numpy" and len(buf) == size:
        import numpy as np

        return np.frombuffer(buf, dtype=np.float64)
    return buf


# ----------------------------------------------------------------------------- brokers


class _ZmqNotify:
    def __init__(self, env: dict[str, Any], role: str) -> None:
        import zmq

        self._zmq = zmq
        self._ctx = zmq.Context()
        self.topic = env["topic"].encode()
        if role == "producer":
            self.sock = self._ctx.socket(zmq.PUB)
            self.sock.setsockopt(zmq.SNDHWM, 0)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.bind(env["zmq_address"])
        else:
            self.sock = self._ctx.socket(zmq.SUB)
            self.sock.setsockopt(zmq.RCVHWM, 0)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.connect(env["zmq_address"])
            self.sock.setsockopt(zmq.SUBSCRIBE, self.topic)
            self.poller = zmq.Poller()
            self.poller.register(self.sock, zmq.POLLIN)

    def send(self, header: bytes, body: Any, copy: bool = True) -> int:
        self.sock.send_multipart((self.topic, header, body), copy=copy)
        return len(self.topic) + len(header) + len(body)

    def recv(self, timeout: float, copy: bool = True) -> tuple[bytes, Any]:
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError("no message from the ZeroMQ publisher")
        if copy:
            parts = self.sock.recv_multipart()
            return parts[1], parts[2]
        frames = self.sock.recv_multipart(copy=False)
        return frames[1].bytes, frames[2].buffer

    def close(self) -> None:
        self.sock.close(linger=0)
        self._ctx.term()


class _RedisNotify:
    """Redis pub/sub (``PUBLISH``/``SUBSCRIBE``) or a Redis list (``RPUSH``/``BLPOP``)."""

    def __init__(self, env: dict[str, Any], role: str, queue: bool) -> None:
        import redis

        self.client: Any = redis.Redis.from_url(env["redis_url"], protocol=2)
        self.channel = env["topic"].encode()
        self.queue = queue
        self.pubsub: Any = None
        if role == "consumer" and not queue:
            self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]
            self.pubsub.subscribe(self.channel)

    def send(self, header: bytes, body: Any, copy: bool = True) -> int:
        message = header + bytes(body) if not isinstance(body, bytes) else header + body
        if self.queue:
            self.client.rpush(self.channel, message)
        else:
            self.client.publish(self.channel, message)
        return len(message)

    def send_raw(self, message: Any) -> int:
        self.client.publish(self.channel, message)
        return len(message)

    def recv(self, timeout: float, copy: bool = True) -> tuple[bytes, Any]:
        if self.queue:
            item = self.client.blpop([self.channel], timeout=max(timeout, 0.01))
            if item is None:
                raise TimeoutError("nothing on the Redis list")
            data = item[1]
        else:
            # get_message returns None for a skipped subscribe confirmation
            # too, so None alone does not mean the time is up.
            deadline = time.monotonic() + timeout
            message = self.pubsub.get_message(timeout=timeout)
            while message is None or message["type"] != "message":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no Redis pub/sub message")
                message = self.pubsub.get_message(timeout=remaining)
            data = message["data"]
        header_len = _HEADER.size
        return data[:header_len], memoryview(data)[header_len:]

    def close(self) -> None:
        if self.pubsub is not None:
            self.pubsub.close()
        if self.queue:
            self.client.delete(self.channel)
        self.client.close()


class _QueueNotify:
    def __init__(self, env: dict[str, Any], role: str) -> None:
        import queue as queue_module

        self.queue = env["mp_queue"]
        self._empty = queue_module.Empty

    def send(self, header: bytes, body: Any, copy: bool = True) -> int:
        message = header + bytes(body)
        self.queue.put(message)
        return len(message)

    def recv(self, timeout: float, copy: bool = True) -> tuple[bytes, Any]:
        try:
            data = self.queue.get(timeout=timeout)
        except self._empty:
            raise TimeoutError("nothing on the multiprocessing queue") from None
        return data[: _HEADER.size], data[_HEADER.size :]

    def close(self) -> None:
        pass


def _notifier(config: Config, env: dict[str, Any], role: str) -> Any:
    if config.broker == "zmq":
        return _ZmqNotify(env, role)
    if config.broker in ("redis", "redisq"):
        return _RedisNotify(env, role, queue=config.broker == "redisq")
    if config.broker == "queue":
        return _QueueNotify(env, role)
    raise ValueError(f"unknown broker {config.broker!r}")


# ----------------------------------------------------------------------------- producers


class RawInlineProducer:
    """The payload itself through the broker."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        self._notify = _notifier(config, env, "producer")
        self._redis = config.broker in ("redis", "redisq")
        self.bytes_sent = 0

    def prepare(self, obj: Any) -> Any:
        buf = _as_buffer(obj)
        if self._redis:
            # One buffer with room for the header, filled once: each send only
            # writes the header in place (no per-message concatenation).
            out = bytearray(_HEADER.size + len(buf))
            out[_HEADER.size :] = buf
            return out
        return buf

    def send(self, obj: Any, ts_ns: int, tag: int) -> None:
        if self._redis:
            buf = obj if isinstance(obj, bytearray) else self.prepare(obj)
            _HEADER.pack_into(buf, 0, ts_ns, tag)
            if self._notify.queue:
                self._notify.client.rpush(self._notify.channel, buf)
            else:
                self._notify.client.publish(self._notify.channel, buf)
            self.bytes_sent += len(buf)
            return
        self.bytes_sent += self._notify.send(
            _HEADER.pack(ts_ns, tag), obj, copy=len(obj) <= _ZMQ_COPY_THRESHOLD
        )

    def close(self) -> None:
        self._notify.close()


class RawClaimCheckProducer:
    """The payload into a store by hand, its key through the broker."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        self._notify = _notifier(config, env, "producer")
        self._store = config.store
        self._ids = itertools.count()
        self._prefix = f"{env['prefix']}-{os.getpid()}-"
        self.bytes_sent = 0
        if config.store == "redis":
            import redis

            self._redis = redis.Redis.from_url(env["redis_url"], protocol=2)
        else:
            self._dir = env["file_dir"]
            os.makedirs(self._dir, exist_ok=True)

    def prepare(self, obj: Any) -> Any:
        return _as_buffer(obj)

    def send(self, obj: Any, ts_ns: int, tag: int) -> None:
        key = f"{self._prefix}{next(self._ids)}"
        if self._store == "redis":
            self._redis.set(key, obj)
        else:
            fd = os.open(os.path.join(self._dir, key), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(obj)
                written = os.write(fd, view)
                while written < len(view):
                    written += os.write(fd, view[written:])
            finally:
                os.close(fd)
        self.bytes_sent += self._notify.send(_HEADER.pack(ts_ns, tag), key.encode())

    def close(self) -> None:
        self._notify.close()
        if self._store == "redis":
            self._redis.close()


# ----------------------------------------------------------------------------- consumers


class RawInlineConsumer:
    """Receives payloads sent by `RawInlineProducer`."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        self._notify = _notifier(config, env, "consumer")
        self._kind = "bytes"
        self._size = 0
        self._copy = True

    def set_trial(self, spec: TrialSpec) -> None:
        self._kind, self._size = spec.kind, spec.size
        self._copy = spec.size <= _ZMQ_COPY_THRESHOLD

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        header, body = self._notify.recv(timeout, copy=self._copy)
        ts, tag = _HEADER.unpack(header)
        return _rebuild(body, self._kind, self._size), ts, tag

    def close(self) -> None:
        self._notify.close()


class RawClaimCheckConsumer:
    """Receives keys from `RawClaimCheckProducer`; reads and removes in one step."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        self._notify = _notifier(config, env, "consumer")
        self._store = config.store
        self._kind = "bytes"
        self._size = 0
        if config.store == "redis":
            import redis

            self._redis: Any = redis.Redis.from_url(env["redis_url"], protocol=2)
        else:
            self._dir = env["file_dir"]

    def set_trial(self, spec: TrialSpec) -> None:
        self._kind, self._size = spec.kind, spec.size

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        header, body = self._notify.recv(timeout)
        ts, tag = _HEADER.unpack(header)
        key = bytes(body).decode()
        data: Any
        if self._store == "redis":
            data = self._redis.getdel(key)
        else:
            path = os.path.join(self._dir, key)
            fd = os.open(path, os.O_RDONLY)
            try:
                data = bytearray(os.fstat(fd).st_size)
                view = memoryview(data)
                got = os.readv(fd, [view])
                while got < len(data):
                    got += os.readv(fd, [view[got:]])
            finally:
                os.close(fd)
            os.unlink(path)
        return _rebuild(data, self._kind, self._size), ts, tag

    def close(self) -> None:
        self._notify.close()
        if self._store == "redis":
            self._redis.close()


def open_raw_producer(config: Config, env: dict[str, Any]) -> Any:
    """Return the raw baseline producer channel of ``config``."""
    if config.store == "inline":
        return RawInlineProducer(config, env)
    return RawClaimCheckProducer(config, env)


def open_raw_consumer(config: Config, env: dict[str, Any]) -> Any:
    """Return the raw baseline consumer channel of ``config``."""
    if config.store == "inline":
        return RawInlineConsumer(config, env)
    return RawClaimCheckConsumer(config, env)
