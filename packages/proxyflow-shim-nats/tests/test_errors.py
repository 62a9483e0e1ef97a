"""Failures reach the caller as the shim's typed errors, never as nats-py's."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from proxyflow.api import BackendAuthenticationError, BackendUnavailableError
from proxyflow.shims.nats import (
    BrokerAuthenticationError,
    BrokerProtocolError,
    BrokerUnavailableError,
    JetStreamPublisher,
    JetStreamSubscriber,
    NatsCredentials,
    StreamSettings,
)
from proxyflow.testing.nats_server import NatsServer, find_nats_server

TOKEN = "s3cret-token"


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def token_server() -> Iterator[NatsServer]:
    if find_nats_server() is None:
        pytest.skip("no nats-server binary")
    with NatsServer(token=TOKEN) as server:
        yield server


def test_nothing_listening_is_broker_unavailable() -> None:
    url = f"nats://127.0.0.1:{_unused_port()}"
    with pytest.raises(BrokerUnavailableError, match="connecting failed") as caught:
        JetStreamPublisher(url, connect_timeout=2.0)
    assert isinstance(caught.value, BackendUnavailableError)
    assert isinstance(caught.value, ConnectionError)
    assert caught.value.backend == url
    with pytest.raises(ConnectionError):
        JetStreamSubscriber(url, "a", durable="w", connect_timeout=2.0)


def test_missing_or_wrong_credentials_are_authentication_errors(
    token_server: NatsServer,
) -> None:
    with pytest.raises(BrokerAuthenticationError) as caught:
        JetStreamPublisher(token_server.url)
    assert isinstance(caught.value, BackendAuthenticationError)
    assert isinstance(caught.value, PermissionError)
    with pytest.raises(BrokerAuthenticationError) as wrong:
        JetStreamSubscriber(
            token_server.url, "a", durable="w", credentials=NatsCredentials(token="nope")
        )
    assert "nope" not in str(wrong.value)


def test_credentials_from_arguments_the_url_or_the_environment(
    token_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_argument = JetStreamPublisher(token_server.url, credentials=NatsCredentials(token=TOKEN))
    by_argument.send_message("a", b"ok")
    by_argument.close()
    in_url = f"nats://{TOKEN}@127.0.0.1:{token_server.port}"
    publisher = JetStreamPublisher(in_url)
    assert TOKEN not in publisher.url
    assert TOKEN not in repr(publisher)
    publisher.close()
    monkeypatch.setenv("PROXYFLOW_TEST_NATS_TOKEN", TOKEN)
    subscriber = JetStreamSubscriber(
        token_server.url,
        "a",
        durable="w",
        credentials=NatsCredentials.from_env(token="PROXYFLOW_TEST_NATS_TOKEN"),
    )
    assert subscriber.next_message(timeout=5.0) == b"ok"
    subscriber.close()


def test_a_server_without_jetstream_is_a_clear_error() -> None:
    binary = find_nats_server()
    if binary is None:
        pytest.skip("no nats-server binary")
    port = _unused_port()
    process = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # wait for "Server is ready"
            if b"ready" in line:
                break
        with pytest.raises((BrokerUnavailableError, BrokerProtocolError), match="JetStream"):
            JetStreamPublisher(f"nats://127.0.0.1:{port}")
    finally:
        process.kill()
        process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def test_overlapping_streams_are_refused_by_the_server(nats_url: str, stream: str) -> None:
    first = JetStreamPublisher(nats_url, stream=StreamSettings(stream, subject_prefix=stream))
    try:
        with pytest.raises(BrokerProtocolError, match="overlap"):
            JetStreamPublisher(nats_url, stream=StreamSettings(stream + "x", subject_prefix=stream))
    finally:
        first.close()
