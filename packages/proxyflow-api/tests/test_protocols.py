"""The protocols are structural: a class satisfies them without importing proxyflow."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from proxyflow.api import (
    AckingSubscriber,
    AsyncCloseable,
    AsyncPublisher,
    AsyncSubscriber,
    AsyncWorkSharingPublisher,
    AsyncWorkSharingSubscriber,
    Delivery,
    Publisher,
    Roster,
    Subscriber,
)


class _Delivery:
    def __init__(self, message: bytes) -> None:
        self.message = message
        self.topic = "t"
        self.delivery_count = 1
        self.settled = False

    def ack(self) -> None:
        self.settled = True

    def nack(self, delay: float | None = None) -> None:
        self.settled = True

    def reject(self) -> None:
        self.settled = True


class _Subscriber:
    topics = ("t",)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return b"m"

    def next_message(self, timeout: float | None = None) -> bytes:
        return b"m"

    def next_delivery(self, timeout: float | None = None) -> _Delivery:
        return _Delivery(b"m")

    def close(self) -> None:
        pass


class _Publisher:
    def send_message(self, topic: str, message: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def test_structural() -> None:
    subscriber = _Subscriber()
    assert isinstance(subscriber, Subscriber)
    assert isinstance(subscriber, AckingSubscriber)
    assert isinstance(subscriber.next_delivery(), Delivery)
    assert isinstance(_Publisher(), Publisher)
    assert not isinstance(_Publisher(), Subscriber)


def test_roster_complete() -> None:
    assert not Roster(frozenset(), frozenset()).complete
    assert not Roster(frozenset({b"a", b"b"}), frozenset({b"a"})).complete
    assert Roster(frozenset({b"a"}), frozenset({b"a", b"z"})).complete


class _AsyncPublisher:
    async def send_message(self, topic: str, message: bytes) -> None:
        pass

    async def close(self) -> None:
        pass


class _AsyncWorkSharingPublisher(_AsyncPublisher):
    async def join(self, topic: str, producer_id: bytes) -> None:
        pass

    async def leave(self, topic: str, producer_id: bytes) -> None:
        pass


class _AsyncWorkSharingSubscriber:
    topics = ("t",)

    def __aiter__(self) -> _AsyncWorkSharingSubscriber:
        return self

    async def __anext__(self) -> bytes:
        return b"m"

    async def next_message(self, timeout: float | None = None) -> bytes:
        return b"m"

    async def roster(self, topic: str) -> Roster:
        return Roster(frozenset({b"p"}), frozenset({b"p"}))

    async def close(self) -> None:
        pass


def test_async_work_sharing_structural() -> None:
    assert isinstance(_AsyncWorkSharingPublisher(), AsyncWorkSharingPublisher)
    assert isinstance(_AsyncWorkSharingPublisher(), AsyncPublisher)
    assert not isinstance(_AsyncPublisher(), AsyncWorkSharingPublisher)
    subscriber = _AsyncWorkSharingSubscriber()
    assert isinstance(subscriber, AsyncWorkSharingSubscriber)
    assert isinstance(subscriber, AsyncSubscriber)
    assert not isinstance(_AsyncWorkSharingPublisher(), AsyncWorkSharingSubscriber)
    assert asyncio.run(subscriber.roster("t")).complete


def test_async_closeable_closes_on_exit_even_after_an_error() -> None:
    class Resource(AsyncCloseable):
        closes = 0

        async def close(self) -> None:
            self.closes += 1

    async def use() -> Resource:
        async with Resource() as resource:
            assert resource.closes == 0
            raise KeyError("inside")

    with pytest.raises(KeyError):
        asyncio.run(use())

    async def plain() -> Resource:
        async with Resource() as resource:
            pass
        return resource

    assert asyncio.run(plain()).closes == 1
    with pytest.raises(NotImplementedError):
        asyncio.run(AsyncCloseable().close())
