"""Static typing of the generic producer and consumer, as a ProxyStore user writes it.

``typed_usage`` is checked by mypy (``assert_type`` fails the check on a
mismatch) in `test_mypy_accepts_generic_usage`; it also runs, so the
subscripted forms are known to work at runtime.
"""

from __future__ import annotations

import queue
import sys
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type

from proxyflow.proxy import Proxy
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.stream import StreamConsumer, StreamProducer


def typed_usage() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    producer = StreamProducer[str](QueuePublisher({"t": q}))
    producer.send("t", "hello", metadata={"i": 0})
    producer.send("t", "world", metadata={"i": 1})
    producer.close(topics=["t"])
    consumer = StreamConsumer[str](QueueSubscriber(q, topics=["t"]), timeout=5)
    assert_type(consumer.next(), "Proxy[str] | str")
    assert_type(consumer.next_with_metadata(), "tuple[dict[str, Any], Proxy[str] | str]")
    for item in consumer:
        assert_type(item, "Proxy[str] | str")
    untyped = StreamConsumer(QueueSubscriber(q, topics=["t"]))  # no annotation needed
    assert_type(untyped, "StreamConsumer[Any]")
    consumer.close()
    untyped.close()


def typed_objects(consumer: StreamConsumer[str]) -> None:
    """Only type-checked (never called): the resolving forms yield ``str``."""
    assert_type(consumer.next_object(), str)
    assert_type(consumer.next_object_with_metadata(), "tuple[dict[str, Any], str]")
    for obj in consumer.iter_objects():
        assert_type(obj, str)
    for metadata, obj in consumer.iter_objects_with_metadata():
        assert_type(metadata, "dict[str, Any]")
        assert_type(obj, str)
    for _, item in consumer.iter_with_metadata():
        assert_type(item, "Proxy[str] | str")


def test_generic_classes_can_be_subscripted_at_runtime() -> None:
    typed_usage()
    assert isinstance(Proxy, type)


def test_mypy_accepts_generic_usage(tmp_path: Any) -> None:
    api = pytest.importorskip("mypy.api")
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import queue\n"
        "from proxyflow.shims.queue import QueuePublisher\n"
        "from proxyflow.stream import StreamProducer\n"
        "q: queue.Queue[bytes] = queue.Queue()\n"
        "StreamProducer[str](QueuePublisher({'t': q})).send('t', [1, 2, 3])\n"
    )
    out, err, status = api.run(
        ["--strict", "--cache-dir", str(tmp_path / "cache"), __file__, str(wrong)]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert len(errors) == 1, out  # only the send of a list[int] on a StreamProducer[str]
    assert errors[0].startswith(str(wrong)), out
    assert 'incompatible type "list[int]"' in errors[0], out
