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


@pytest.mark.parametrize(
    "module",
    [
        "proxyflow.api.async_protocols",
        "proxyflow.api.connector_protocols",
        "proxyflow.api.broker_types",
    ],
)
def test_every_split_out_name_is_the_same_object_from_protocols_and_the_package(
    module: str,
) -> None:
    import importlib

    import proxyflow.api
    import proxyflow.api.protocols

    home = importlib.import_module(module)
    assert home.__all__
    for name in home.__all__:
        assert getattr(proxyflow.api.protocols, name) is getattr(home, name), name
        assert getattr(proxyflow.api, name) is getattr(home, name), name
        assert name in proxyflow.api.protocols.__all__, name


def test_the_protocol_modules_import_in_any_order() -> None:
    import subprocess
    import sys

    for first in ("async_protocols", "connector_protocols", "broker_types", "buffers"):
        code = f"import proxyflow.api.{first}; import proxyflow.api.protocols"
        done = subprocess.run(
            [sys.executable, "-c", code], check=False, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
