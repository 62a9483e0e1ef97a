"""The Streams group reader's core, without Redis: the commands its steps ask for, and why."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from proxyflow.api import DeliveryOutcome
from proxyflow.shims.redis import BrokerConnectionError, BrokerProtocolError
from proxyflow.shims.redis._streams_core import GroupCore
from proxyflow.shims.redis._streams_settings import GroupSettings
from proxyflow.shims.redis._streams_state import DeliveryState, Entry
from proxyflow.shims.redis._streams_steps import Call, Command, Pipelined, RunScript, Step
from proxyflow.shims.redis.stream_keys import StreamKeys

NO_CLAIM = [b"0-0", [], [], []]  # the claim script's reply: nothing to reclaim, scan complete


def core(*, confirm_acks: bool = True, dead_letter: str | None = None) -> GroupCore:
    settings = GroupSettings(
        ("a",), "g", "c", StreamKeys("p:"), 30.0, 3, dead_letter, 16, None, "all"
    )
    return GroupCore("redis://h", settings, confirm_acks=confirm_acks, describe="test reader")


def reclaimed(group: GroupCore) -> None:
    """Record a complete reclaim pass: the next one is not due for a while."""
    group.inbox.reclaim_done(time.monotonic(), complete=True)


def read_reply(*ids: bytes) -> list[Any]:
    return [[b"p:a", [(entry_id, {b"message": b"m"}) for entry_id in ids]]]


class Script:
    """Drives a step with scripted replies, recording the commands it asked for."""

    def __init__(self, step: Step[Any]) -> None:
        self.step = step
        self.commands: list[Command] = [next(step)]

    def reply(self, value: Any) -> None:
        self.commands.append(self.step.send(value))

    def fail(self, exc: BaseException) -> None:
        self.commands.append(self.step.throw(exc))

    @property
    def last(self) -> Command:
        return self.commands[-1]


def finish(step: Step[Any], value: Any) -> Any:
    with pytest.raises(StopIteration) as done:
        step.send(value)
    return done.value.value


def test_a_first_poll_reclaims_then_reads() -> None:
    group = core()
    script = Script(group.fetch(0.5))
    assert script.last == RunScript("claim", ["p:a"], ["g", "c", 30000, b"0-0", 16])
    script.reply(NO_CLAIM)
    assert script.last == Call("xreadgroup", ("g", "c", {"p:a": ">"}, 1, 500))
    entry = finish(script.step, read_reply(b"1-0", b"2-0"))
    assert (entry.entry_id, entry.delivery_count) == (b"1-0", 1)
    assert group.inbox.take() == Entry("a", "p:a", b"2-0", {b"message": b"m"}, 1)


def test_a_missing_group_is_created_again_from_the_start() -> None:
    group = core()
    reclaimed(group)
    script = Script(group.fetch(0.0))
    assert script.last == Call("xreadgroup", ("g", "c", {"p:a": ">"}, 1, None))
    script.fail(redis.ResponseError("NOGROUP No such key 'p:a' or consumer group 'g'"))
    assert script.last == Call("xgroup_create", ("p:a", "g"), {"id": "0", "mkstream": True})
    assert finish(script.step, True) is None


def test_a_lost_connection_while_reading_is_the_shims_error() -> None:
    group = core()
    reclaimed(group)
    script = Script(group.fetch(0.0))
    with pytest.raises(BrokerConnectionError, match="lost its connection"):
        script.fail(redis.ConnectionError("reset"))


def test_a_failed_ack_leaves_the_delivery_pending() -> None:
    group = core()
    delivery = DeliveryState(Entry("a", "p:a", b"1-0", {b"message": b"m"}, 1))
    group.inbox.hand_out(delivery)
    script = Script(group.settle(delivery, DeliveryOutcome.ACKED, None))
    assert script.last == Call("xack", ("p:a", "g", b"1-0"))
    with pytest.raises(BrokerProtocolError, match="acknowledging an entry of 'a'"):
        script.fail(redis.ResponseError("NOPERM"))
    assert delivery.outcome is DeliveryOutcome.PENDING


def test_deferred_acks_ride_with_the_next_read_and_are_kept_if_it_fails() -> None:
    group = core(confirm_acks=False)
    reclaimed(group)
    delivery = DeliveryState(Entry("a", "p:a", b"1-0", {b"message": b"m"}, 1))
    group.inbox.hand_out(delivery)
    with pytest.raises(StopIteration):  # no command: the ack waits for the next read
        next(group.settle(delivery, DeliveryOutcome.ACKED, None))
    script = Script(group.fetch(0.0))
    read = Call("xreadgroup", ("g", "c", {"p:a": ">"}, 1, None))
    assert script.last == Pipelined((Call("xack", ("p:a", "g", b"1-0")), read))
    with pytest.raises(BrokerConnectionError):
        script.fail(redis.ConnectionError("reset"))
    assert group.inbox.take_acks() == {"p:a": [b"1-0"]}


def test_an_exhausted_entry_goes_to_the_dead_letters_when_read() -> None:
    group = core(dead_letter="dead")
    script = Script(group.fetch(0.0))
    claim = [b"0-0", [[b"1-0", [b"message", b"m"]]], [4], []]  # a 4th delivery, max 3
    script.reply(claim)
    assert isinstance(script.last, RunScript)
    assert script.last.script == "settle"
    assert script.last.keys == ["p:a", "p:dead"]
    assert script.last.args[4] == "dead"
