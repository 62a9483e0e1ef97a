"""Well-formed but hostile events: in skip mode none of them raises; each is counted.

Every message here is valid msgpack in the shape of an event, with fields an
attacker chooses: store configs naming connector kinds that exist, are not
installed or are not allowed, options and keys of every msgpack type,
serializer names that are not registered, payloads that are not what their
serializer wrote. A consumer in ``on_decode_error="skip"`` mode must skip and
count them all, and still deliver the good events around them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from proxyflow.api import ProxyflowError
from proxyflow.serialize import serialize
from proxyflow.stream import StreamConsumer
from proxyflow.stream.events import (
    EndOfStreamEvent,
    NewObjectEvent,
    NewObjectKeyEvent,
    encode_event,
)
from proxyflow.stream.protocols import Message

PID = b"hostile"


class Messages:
    """A subscriber over a list of messages (fan-out: no roster)."""

    topics = ("t",)

    def __init__(self, messages: list[bytes]) -> None:
        self._messages = iter(messages)

    def next_message(self, timeout: float | None = None) -> Message:
        try:
            return next(self._messages)
        except StopIteration:
            raise TimeoutError("no more messages") from None

    def __iter__(self) -> Iterator[Message]:
        return self._messages

    def close(self) -> None:
        pass


def _value(rng: random.Random, depth: int = 0) -> Any:
    choices = [
        None,
        True,
        rng.randint(-(2**63), 2**64 - 1),
        rng.random() * 1e9,
        "",
        "../" * rng.randint(1, 4) + "etc",
        "x" * rng.randint(0, 300),
        bytes(rng.randrange(256) for _ in range(rng.randint(0, 40))),
        -1,
        0,
    ]
    if depth < 2:
        choices += [
            [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
            {f"k{i}": _value(rng, depth + 1) for i in range(rng.randint(0, 3))},
        ]
    return rng.choice(choices)


def _config(rng: random.Random, tmp_path: Path) -> bytes:
    kind = rng.choice(["local", "file", "redis", "no-such-kind", "", "file"])
    options: dict[str, Any] = {f"o{i}": _value(rng) for i in range(rng.randint(0, 3))}
    if kind == "file" and rng.random() < 0.5:
        options["store_dir"] = rng.choice([str(tmp_path / "fuzz"), _value(rng), 7])
    if kind == "local" and rng.random() < 0.5:
        options.update(instance_id=_value(rng), pid=rng.choice([_value(rng), 1]))
    if kind == "redis":
        # Shapes only: a well-formed URL would be a real (and slow) connection attempt.
        options["url"] = rng.choice([7, [], {"a": 1}, b"redis", None, "not a url"])
    name = rng.choice(["fuzz", "", "x" * 200, f"fuzz-{rng.randrange(5)}"])
    serializer = rng.choice(["default", "nope", "", "pickle"])
    cache = rng.choice([0, -5, 16, 2**40])
    fields = [name, kind, options, serializer, cache]
    if rng.random() < 0.1:
        fields = [_value(rng) for _ in range(rng.randint(0, 6))]
    return msgpack.packb(fields, use_bin_type=True)  # type: ignore[no-any-return]


def _hostile(rng: random.Random, seq: int, tmp_path: Path) -> bytes:
    metadata = {f"m{i}": _value(rng) for i in range(rng.randint(0, 2))}
    if rng.random() < 0.5:
        event: Any = NewObjectKeyEvent(
            PID, "t", seq, _config(rng, tmp_path), _value(rng), rng.random() < 0.5, metadata
        )
    else:
        payload = rng.choice(
            [
                bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))),
                bytes(serialize("fine"))[: rng.randint(0, 8)],
                b"\x80\x05\x95" + bytes(20),
            ]
        )
        serializer = rng.choice(["default", "nope", "", "pickle", "json"])
        event = NewObjectEvent(PID, "t", seq, serializer, payload, metadata)
    return encode_event(event)


@pytest.mark.parametrize("prefetch", [0, 4])
@pytest.mark.parametrize("seed", range(3))
def test_hostile_events_never_raise_in_skip_mode(seed: int, prefetch: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    count = 1000
    messages = []
    good = []
    for seq in range(count):
        if seq % 100 == 0:
            good.append(seq)
            messages.append(encode_event(NewObjectEvent(PID, "t", seq, "default", b"", {})))
        else:
            messages.append(_hostile(rng, seq, tmp_path))
    messages.append(encode_event(EndOfStreamEvent(PID, "t", count)))
    consumer = StreamConsumer(
        Messages(messages),
        timeout=1,
        on_decode_error="skip",
        allowed_connectors={"file", "redis"},
        prefetch=prefetch,
        trusted_locations=["*"],  # hostile configs reach the store builders (in tmp_path)
    )
    delivered = list(consumer.iter_objects())
    stats = consumer.stats
    assert stats.objects == len(delivered)
    # Locations the trust policy refuses even so (a relative directory) are counted apart.
    assert stats.objects + stats.skipped_bad_messages + stats.untrusted == count
    # An event too malformed to decode takes its sequence number with it: it is
    # skipped and, being missing from the sequence, also counted as lost.
    assert stats.lost <= stats.skipped_bad_messages


def test_hostile_events_raise_typed_errors_by_default(tmp_path: Path) -> None:
    rng = random.Random(99)
    raw: list[str] = []
    for _ in range(300):
        consumer = StreamConsumer(Messages([_hostile(rng, 0, tmp_path)]), timeout=1)
        try:
            consumer.next_object()
        except ProxyflowError:
            pass  # content rejected, with a typed error
        except Exception as exc:
            raw.append(repr(exc))
    assert raw == []
