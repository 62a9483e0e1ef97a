"""Build the broker shims and the connector that a demo run uses.

Redis support is optional (``pip install 'proxyflow[all]'``); asking for it
without the packages installed raises
[`InvalidOptionError`][proxyflow.cli.exceptions.InvalidOptionError] naming the install
command.
"""

from __future__ import annotations

from typing import Any

from proxyflow.api import redact_url
from proxyflow.cli.exceptions import BackendUnreachableError, InvalidOptionError
from proxyflow.cli.options import BrokerSpec, StoreSpec
from proxyflow.store.protocols import Connector
from proxyflow.stream.protocols import Publisher, Subscriber

__all__ = ["check_reachable", "make_connector", "make_publisher", "make_subscriber"]

ZMQ_BIND_ADDRESS = "tcp://127.0.0.1:*"
"""Where the embedded ZeroMQ publisher binds: loopback, a free port."""

_INSTALL_HINT = "Redis support is not installed: pip install 'proxyflow[all]'"


def make_connector(spec: StoreSpec, directory: str) -> Connector:
    """Create the connector of ``spec``.

    Args:
        spec: The parsed ``--store`` value.
        directory: The directory to use when ``spec`` is a file store
            without a location of its own (the demo's temporary directory).
    """
    if spec.kind == "redis":
        try:
            from proxyflow.connectors.redis import RedisConnector
        except ImportError as exc:
            raise InvalidOptionError(_INSTALL_HINT, "--store") from exc
        redis_connector: Connector = RedisConnector(spec.location)
        return redis_connector
    from proxyflow.connectors.file import FileConnector

    file_connector: Connector = FileConnector(spec.location or directory)
    return file_connector


def make_publisher(spec: BrokerSpec) -> Publisher:
    """Create the publisher of ``spec`` (the ZeroMQ one binds a free loopback port)."""
    if spec.kind == "zmq":
        from proxyflow.shims.zmq import ZeroMQPublisher

        return ZeroMQPublisher(ZMQ_BIND_ADDRESS)
    try:
        from proxyflow.shims.redis import RedisPublisher, RedisQueuePublisher
    except ImportError as exc:
        raise InvalidOptionError(_INSTALL_HINT, "--broker") from exc
    if spec.kind == "redis":
        return RedisPublisher(spec.url)
    return RedisQueuePublisher(spec.url)


def make_subscriber(spec: BrokerSpec, topic: str, address: str) -> Subscriber:
    """Create the subscriber of ``spec`` reading ``topic``.

    Args:
        spec: The parsed ``--broker`` value.
        topic: The topic to read.
        address: The endpoint the ZeroMQ publisher bound (ignored for Redis).
    """
    if spec.kind == "zmq":
        from proxyflow.shims.zmq import ZeroMQSubscriber

        return ZeroMQSubscriber(address, topics=[topic])
    try:
        from proxyflow.shims.redis import RedisQueueSubscriber, RedisSubscriber
    except ImportError as exc:
        raise InvalidOptionError(_INSTALL_HINT, "--broker") from exc
    if spec.kind == "redis":
        return RedisSubscriber(spec.url, topics=[topic])
    return RedisQueueSubscriber(spec.url, topics=[topic])


def _ping_redis(url: str, option: str, timeout: float) -> None:
    try:
        import redis
    except ImportError as exc:
        raise InvalidOptionError(_INSTALL_HINT, option) from exc
    client: Any = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise BackendUnreachableError(
            option, f"cannot reach Redis at {redact_url(url)}: {exc}"
        ) from exc
    finally:
        client.close()


def check_reachable(broker: BrokerSpec, store: StoreSpec, *, timeout: float = 3.0) -> None:
    """Fail fast, before any process starts, if a backend cannot be used.

    Redis servers must answer ``PING`` within ``timeout`` seconds; a store
    directory must be creatable and writable.

    Raises:
        BackendUnreachableError: if a Redis server does not answer.
        InvalidOptionError: if the store directory is unusable or Redis
            support is not installed.
    """
    if broker.kind != "zmq":
        _ping_redis(broker.url, "--broker", timeout)
    if store.kind == "redis":
        _ping_redis(store.location, "--store", timeout)
    elif store.location:
        from proxyflow.connectors.file import FileConnector

        try:
            FileConnector(store.location).close()
        except OSError as exc:
            raise InvalidOptionError(str(exc), "--store") from exc
