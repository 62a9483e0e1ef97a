"""The protocols are structural: a class satisfies them without importing proxyflow."""

from __future__ import annotations

from collections.abc import Iterator

from proxyflow.api import AckingSubscriber, Delivery, Publisher, Subscriber


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
    from proxyflow.api import Roster

    assert not Roster(frozenset(), frozenset()).complete
    assert not Roster(frozenset({b"a", b"b"}), frozenset({b"a"})).complete
    assert Roster(frozenset({b"a"}), frozenset({b"a", b"z"})).complete
