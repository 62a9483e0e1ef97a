"""`GroupBacklog` and the optional drain capability of work-sharing subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from proxyflow.api import (
    AsyncDrainableSubscriber,
    AsyncSubscriber,
    DrainableSubscriber,
    GroupBacklog,
    Subscriber,
)


def test_a_backlog_is_drained_only_when_both_counts_are_zero() -> None:
    assert GroupBacklog(0, 0).drained
    assert not GroupBacklog(1, 0).drained
    assert not GroupBacklog(0, 3).drained
    assert GroupBacklog(undelivered=2, unacknowledged=1) == (2, 1)


class _Subscriber:
    topics = ("t",)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return b"m"

    def next_message(self, timeout: float | None = None) -> bytes:
        return b"m"

    def close(self) -> None:
        pass


class _Drainable(_Subscriber):
    def backlog(self, topic: str) -> GroupBacklog:
        return GroupBacklog(0, 1)


class _AsyncDrainable:
    topics = ("t",)

    def __aiter__(self) -> _AsyncDrainable:
        return self

    async def __anext__(self) -> bytes:
        return b"m"

    async def next_message(self, timeout: float | None = None) -> bytes:
        return b"m"

    async def backlog(self, topic: str) -> GroupBacklog:
        return GroupBacklog(0, 0)

    async def close(self) -> None:
        pass


def test_the_capability_is_structural_and_optional() -> None:
    assert isinstance(_Drainable(), DrainableSubscriber)
    assert isinstance(_Subscriber(), Subscriber)
    assert not isinstance(_Subscriber(), DrainableSubscriber)
    assert not _Drainable().backlog("t").drained
    subscriber = _AsyncDrainable()
    assert isinstance(subscriber, AsyncDrainableSubscriber)
    assert isinstance(subscriber, AsyncSubscriber)
    assert asyncio.run(subscriber.backlog("t")).drained
