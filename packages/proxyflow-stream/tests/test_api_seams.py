"""The stream package builds on proxyflow.api: one definition of each protocol, one error root."""

from __future__ import annotations

import proxyflow.api
from proxyflow.stream import StreamConsumer, StreamProducer, exceptions, protocols


def test_broker_protocols_have_one_definition() -> None:
    for name in ("Publisher", "Subscriber", "Message", "AckingSubscriber", "Delivery"):
        assert getattr(protocols, name) is getattr(proxyflow.api, name), name


def test_stream_errors_are_proxyflow_errors() -> None:
    assert issubclass(exceptions.StreamError, proxyflow.api.ProxyflowError)
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), proxyflow.api.ProxyflowError), name


def test_producer_and_consumer_are_closeables() -> None:
    assert issubclass(StreamProducer, proxyflow.api.Closeable)
    assert issubclass(StreamConsumer, proxyflow.api.Closeable)
