"""Channels of the published ``proxystore`` package, for the second column of ratios.

``proxystore`` is never a dependency of proxyflow: it is imported only here,
only in the benchmark's child processes, and only when it can be found. Point
``PROXYFLOW_BENCH_PROXYSTORE_PATH`` at a ``pip install --target`` folder to use
a copy kept outside the development environment; that folder is appended to
``sys.path`` (so installed packages keep priority).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from typing import Any
from urllib.parse import urlparse

from proxyflow_bench.spec import Config, TrialSpec

__all__ = ["open_ps_consumer", "open_ps_producer", "proxystore_available", "proxystore_version"]

PATH_ENV = "PROXYFLOW_BENCH_PROXYSTORE_PATH"
CONSUMER_TIMEOUT = 60


def _add_path() -> None:
    # ProxyStore marks its streaming module experimental; the warning is noise here.
    warnings.filterwarnings("ignore", message="Streaming is an experimental feature")
    extra = os.environ.get(PATH_ENV)
    if extra and extra not in sys.path:
        sys.path.append(extra)


def proxystore_available() -> bool:
    """Return whether the ``proxystore`` package can be imported here."""
    _add_path()
    return importlib.util.find_spec("proxystore") is not None


def proxystore_version() -> str | None:
    """Return the installed ``proxystore`` version, or ``None``."""
    if not proxystore_available():
        return None
    import proxystore  # type: ignore[import-not-found,unused-ignore]

    return str(getattr(proxystore, "__version__", "?"))


def _host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


def _zmq_host_port(address: str) -> tuple[str, int]:
    # tcp://127.0.0.1:5555
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


class CountingPublisher:
    """Forwards to a publisher and counts the bytes of the messages it sends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.bytes_sent = 0

    def send_message(self, topic: str, message: bytes) -> None:
        self.bytes_sent += len(message)
        self.inner.send_message(topic, message)

    def close(self) -> None:
        self.inner.close()


class PsProducer:
    """A ProxyStore ``StreamProducer`` on one topic."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        _add_path()
        from proxystore.store import Store  # type: ignore[import-not-found,unused-ignore]
        from proxystore.stream import StreamProducer  # type: ignore[import-not-found,unused-ignore]

        topic = env["topic"]
        if config.broker == "zmq":
            from proxystore.stream.shims.zmq import ZeroMQPublisher  # type: ignore[import-not-found,unused-ignore]

            publisher: Any = ZeroMQPublisher(*_zmq_host_port(env["zmq_address"]))
        elif config.broker == "redis":
            from proxystore.stream.shims.redis import RedisPublisher  # type: ignore[import-not-found,unused-ignore]

            publisher = RedisPublisher(*_host_port(env["redis_url"]))
        elif config.broker == "redisq":
            from proxystore.stream.shims.redis import RedisQueuePublisher  # type: ignore[import-not-found,unused-ignore]

            publisher = RedisQueuePublisher(*_host_port(env["redis_url"]))
        else:
            from proxystore.stream.shims.queue import QueuePublisher  # type: ignore[import-not-found,unused-ignore]

            publisher = QueuePublisher({topic: env["mp_queue"]})
        store: Any = None
        name = f"{env['prefix']}-{config.name}"
        if config.store == "file":
            from proxystore.connectors.file import FileConnector  # type: ignore[import-not-found,unused-ignore]

            store = Store(name, FileConnector(env["file_dir"], clear=False), register=True)
        elif config.store == "redis":
            from proxystore.connectors.redis import RedisConnector  # type: ignore[import-not-found,unused-ignore]

            store = Store(name, RedisConnector(*_host_port(env["redis_url"])), register=True)
        self._topic = topic
        self._publisher = CountingPublisher(publisher)
        self._producer = StreamProducer(self._publisher, stores={topic: store})
        self._store = store

    @property
    def bytes_sent(self) -> int:
        return self._publisher.bytes_sent

    def prepare(self, obj: Any) -> Any:
        return obj

    def send(self, obj: Any, ts_ns: int, tag: int) -> None:
        self._producer.send(self._topic, obj, evict=True, metadata={"t": ts_ns, "g": tag})

    def close(self) -> None:
        self._producer.close(stores=False)
        if self._store is not None:
            self._store.close()


class PsConsumer:
    """A ProxyStore ``StreamConsumer`` whose proxies are resolved as they arrive."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        _add_path()
        from proxystore.proxy import Proxy, extract  # type: ignore[import-not-found,unused-ignore]
        from proxystore.stream import StreamConsumer  # type: ignore[import-not-found,unused-ignore]

        topic = env["topic"]
        if config.broker == "zmq":
            from proxystore.stream.shims.zmq import ZeroMQSubscriber  # type: ignore[import-not-found,unused-ignore]

            subscriber: Any = ZeroMQSubscriber(*_zmq_host_port(env["zmq_address"]), topic=topic)
        elif config.broker == "redis":
            from proxystore.stream.shims.redis import RedisSubscriber  # type: ignore[import-not-found,unused-ignore]

            subscriber = RedisSubscriber(*_host_port(env["redis_url"]), topic)
        elif config.broker == "redisq":
            from proxystore.stream.shims.redis import RedisQueueSubscriber  # type: ignore[import-not-found,unused-ignore]

            subscriber = RedisQueueSubscriber(
                *_host_port(env["redis_url"]), topic, timeout=CONSUMER_TIMEOUT
            )
        else:
            from proxystore.stream.shims.queue import QueueSubscriber  # type: ignore[import-not-found,unused-ignore]

            subscriber = QueueSubscriber(env["mp_queue"], timeout=CONSUMER_TIMEOUT)
        self._consumer = StreamConsumer(subscriber)
        self._proxy_type = Proxy
        self._extract = extract

    def set_trial(self, spec: TrialSpec) -> None:
        pass

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        metadata, item = self._consumer.next_with_metadata()
        if type(item) is self._proxy_type:
            item = self._extract(item)
        return item, metadata["t"], metadata["g"]

    def close(self) -> None:
        self._consumer.close(stores=True)


def open_ps_producer(config: Config, env: dict[str, Any]) -> PsProducer:
    """Return the ProxyStore producer channel of ``config``."""
    return PsProducer(config, env)


def open_ps_consumer(config: Config, env: dict[str, Any]) -> PsConsumer:
    """Return the ProxyStore consumer channel of ``config``."""
    return PsConsumer(config, env)
