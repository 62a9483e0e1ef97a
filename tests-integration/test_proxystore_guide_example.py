"""ProxyStore's streaming example (producer.py / consumer.py), run on proxyflow.

The two scripts are ProxyStore's, word for word, with only the imports
changed (``proxystore`` -> ``proxyflow``; ``proxystore.connector.file`` ->
``proxyflow.connectors.file``; ``proxystore.stream.shims.redis`` ->
``proxyflow.shims.redis``) and the ``...`` placeholders filled: a directory for
the ``FileConnector``, the test's Redis server in ProxyStore's call form
(``RedisPublisher(hostname, port)``, ``RedisSubscriber(hostname, port, topic)``),
and ten items. Each runs in a process of its own against a real Redis server.

The consumer process gets one setting through its environment:
``PROXYFLOW_TRUSTED_LOCATIONS=file:<store directory>``. A proxyflow consumer
follows an event to a store directory only when its own process trusts it
(ProxyStore's follows any event anywhere); without the setting it refuses,
which the second test shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

redis = pytest.importorskip("redis")

PROCESS_TIMEOUT = 60.0
ITEMS = 10

PRODUCER = """\
from proxyflow.connectors.file import FileConnector
from proxyflow.store import Store
from proxyflow.stream import StreamProducer
from proxyflow.shims.redis import RedisPublisher

store = Store('example', FileConnector({store_dir!r})) # (1)!
publisher = RedisPublisher({redis_at}) # (2)!
producer = StreamProducer(publisher, stores={{'my-topic': store}}) # (3)!

for item in range({items}):
    producer.send('my-topic', item, evict=True) # (4)!

producer.close(topics=['my-topic']) # (5)!
"""

CONSUMER = """\
from proxyflow.connectors.file import FileConnector
from proxyflow.proxy import Proxy
from proxyflow.stream import StreamConsumer
from proxyflow.shims.redis import RedisSubscriber

subscriber = RedisSubscriber({redis_at}, 'my-topic')  # (1)!
consumer = StreamConsumer(subscriber)  # (2)!

for item in consumer: # (3)!
    assert isinstance(item, Proxy)  # (4)!

consumer.close() # (5)!
"""


def _start(script: Path, trusted: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROXYFLOW_TRUSTED_LOCATIONS"}
    if trusted is not None:
        env["PROXYFLOW_TRUSTED_LOCATIONS"] = trusted
    return subprocess.Popen(
        [sys.executable, script.name],
        cwd=script.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(popen: subprocess.Popen[str], name: str) -> None:
    try:
        _, stderr = popen.communicate(timeout=PROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        popen.kill()
        _, stderr = popen.communicate(timeout=10)
        pytest.fail(f"{name} did not finish within {PROCESS_TIMEOUT}s\n{stderr}")
    assert popen.returncode == 0, f"{name} exited with {popen.returncode}\n{stderr}"


def _wait_for_subscription(monitor: Any, channel: str) -> None:
    """Read the server's command feed until a client subscribed to ``channel``.

    Redis pub/sub drops messages published before a subscriber exists, so the
    producer must start after the consumer's ``SUBSCRIBE``. Every read blocks
    on the socket (bounded by the client's ``socket_timeout``): no polling.
    """
    while True:
        command = monitor.next_command()["command"].split()
        if command and command[0].upper() == "SUBSCRIBE" and channel in command[1:]:
            return


def _server_arguments(redis_url: str) -> str:
    """The Redis server as ProxyStore's shims take it: ``hostname, port`` (and options)."""
    parts = urlsplit(redis_url)
    arguments = [repr(parts.hostname), str(parts.port or 6379)]
    database = parts.path.strip("/")
    if database and database != "0":
        arguments.append(f"db={int(database)}")
    if parts.password:
        arguments.append(f"password={parts.password!r}")
    return ", ".join(arguments)


def _run(redis_url: str, tmp_path: Path, trusted: str | None) -> subprocess.CompletedProcess[str]:
    """Run the consumer, then the producer once it subscribed; return how the consumer ended."""
    store_dir = tmp_path / "objects"
    redis_at = _server_arguments(redis_url)
    (tmp_path / "producer.py").write_text(
        PRODUCER.format(store_dir=str(store_dir), redis_at=redis_at, items=ITEMS)
    )
    (tmp_path / "consumer.py").write_text(CONSUMER.format(redis_at=redis_at))

    client = redis.Redis.from_url(redis_url, socket_timeout=PROCESS_TIMEOUT)
    running: list[subprocess.Popen[str]] = []
    try:
        with client.monitor() as monitor:
            running.append(_start(tmp_path / "consumer.py", trusted))
            _wait_for_subscription(monitor, "my-topic")
        running.append(_start(tmp_path / "producer.py"))
        _finish(running[1], "producer.py")
        stdout, stderr = running[0].communicate(timeout=PROCESS_TIMEOUT)
    finally:
        for popen in running:
            if popen.poll() is None:
                popen.kill()
                popen.communicate(timeout=10)
        client.close()
    return subprocess.CompletedProcess(running[0].args, running[0].returncode, stdout, stderr)


def test_guide_producer_and_consumer_run_with_only_the_imports_changed(
    redis_url: str, tmp_path: Path
) -> None:
    store_dir = tmp_path / "objects"
    consumer = _run(redis_url, tmp_path, f"file:{store_dir}")
    assert consumer.returncode == 0, consumer.stderr  # it stopped at the end-of-stream event

    # Every item was stored, and none was read: the consumer only held proxies,
    # which resolve (and, with evict=True, delete) on first use.
    assert len(list(store_dir.iterdir())) == ITEMS


def test_without_the_setting_the_consumer_refuses_the_directory(
    redis_url: str, tmp_path: Path
) -> None:
    consumer = _run(redis_url, tmp_path, None)
    assert consumer.returncode != 0
    assert "UntrustedLocationError" in consumer.stderr
    assert "PROXYFLOW_TRUSTED_LOCATIONS" in consumer.stderr
