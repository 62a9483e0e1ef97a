"""The topics of a [`StreamProducer`][proxyflow.stream.producer.StreamProducer].

Kept apart from the producer's shell: `Topics` is mixed into it. It finds or
makes each topic's `TopicPublisher` (under the producer's lock, with the
topic's store and packed config), and flushes or ends several topics at once,
each even when another fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from proxyflow.stream._producer_setup import StoreMap
from proxyflow.stream._signing import Signer
from proxyflow.stream._topic import TopicPublisher, for_each_topic
from proxyflow.stream._wire import TopicCodec
from proxyflow.stream.exceptions import ProducerClosedError
from proxyflow.stream.protocols import Publisher

__all__ = ["Topics"]


class Topics:
    """Finding, flushing and ending the topics of a stream producer (and ``_check_open``)."""

    _aggregator: Callable[[list[Any]], Any] | None
    _closed: bool
    _id: bytes
    _lock: threading.Lock
    _publisher: Publisher
    _signer: Signer | None
    _stores: StoreMap
    _topics: dict[str, TopicPublisher]

    def _topic(self, topic: str, *, closing: bool = False) -> TopicPublisher:
        """``topic``'s publisher, made on first use (``closing``: also once the producer is)."""
        state = self._topics.get(topic)
        if state is not None:
            return state
        with self._lock:
            if self._closed and not closing:
                raise ProducerClosedError("the producer is closed")
            state = self._topics.get(topic)
            if state is None:
                store = self._stores.store_for(topic)
                codec = TopicCodec(self._id, topic, self._stores.packed_config(store))
                state = TopicPublisher(
                    topic,
                    store,
                    codec,
                    self._publisher,
                    producer_id=self._id,
                    flush=lambda: self._flush_state(topic),
                    signer=self._signer,
                )
                self._topics[topic] = state
            return state

    def _check_open(self) -> None:
        """Raise `ProducerClosedError` once the producer is closed."""
        if self._closed:
            raise ProducerClosedError("the producer is closed")

    def _flush_state(self, topic: str) -> None:
        """Flush ``topic`` whether or not the producer is closed (for a `SendResult`)."""
        state = self._topics.get(topic)
        if state is not None:
            with state.lock:
                state.flush(self._aggregator)

    def _flush_all(self) -> None:
        aggregator = self._aggregator
        for_each_topic(list(self._topics.values()), lambda state: state.flush(aggregator))

    def _close_topics(self, topics: Iterable[str]) -> None:
        aggregator = self._aggregator
        states = [self._topic(topic, closing=True) for topic in topics]
        for_each_topic(states, lambda state: state.end(aggregator))
