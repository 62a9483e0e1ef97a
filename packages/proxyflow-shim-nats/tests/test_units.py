"""Pieces of the shim that need no server: names, settings, URLs, credentials, errors."""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors
import pytest

from proxyflow.api import (
    BackendAuthenticationError,
    BackendFullError,
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    ObjectTooLargeError,
)
from proxyflow.shims.nats import (
    BrokerAuthenticationError,
    InvalidBrokerURLError,
    NatsCredentials,
    StreamSettings,
    redact_nats_url,
)
from proxyflow.shims.nats.connection import ConnectOptions
from proxyflow.shims.nats.publishing import header_size
from proxyflow.shims.nats.streams import ConsumerSettings
from proxyflow.shims.nats.subjects import check_durable, consumer_name, subject_for, topic_token
from proxyflow.shims.nats.translation import translate_error


def test_proxyflow_and_shims_are_namespaces() -> None:
    import proxyflow
    import proxyflow.shims

    assert proxyflow.__file__ is None
    assert proxyflow.shims.__file__ is None


# -- topics and names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "token"),
    [
        ("events", "events"),
        ("a_b-c9", "a_b-c9"),
        ("a.b", "a%2Eb"),
        ("a b", "a%20b"),
        ("*", "%2A"),
        (">", "%3E"),
        ("50%", "50%25"),
        ("ü", "%C3%BC"),
    ],
)
def test_topic_tokens_are_single_safe_tokens(topic: str, token: str) -> None:
    assert topic_token(topic) == token
    assert subject_for("deploy", topic) == f"deploy.{token}"


def test_topic_tokens_are_one_to_one() -> None:
    topics = ["a", "a.b", "a%2Eb", "a%252Eb", "a b", "a_b", "A", "%", "%25"]
    assert len({topic_token(t) for t in topics}) == len(topics)


def test_bad_topics_are_refused() -> None:
    with pytest.raises(ValueError):
        topic_token("")
    with pytest.raises(TypeError):
        topic_token(b"bytes")  # type: ignore[arg-type]


def test_consumer_names_never_collide() -> None:
    pairs = [
        ("w", "a"),
        ("w_a", "b"),
        ("w", "a_b"),
        ("w", "a.b"),
        ("w", "--x"),
        ("w", "x" * 40),
        ("w", "A"),
        ("w_", "a"),
    ]
    names = [consumer_name(d, t) for d, t in pairs]
    assert len(set(names)) == len(names)
    assert consumer_name("workers", "jobs") == "workers_jobs"
    for name in names:
        assert all(c.isalnum() or c in "-_" for c in name), name


@pytest.mark.parametrize("durable", ["", "a.b", "a b", "*", "x" * 65, 3])
def test_bad_durable_names_are_refused(durable: object) -> None:
    with pytest.raises(ValueError, match="durable"):
        check_durable(durable)  # type: ignore[arg-type]


# -- settings ---------------------------------------------------------------------------


def test_stream_settings_defaults_and_create_config() -> None:
    settings = StreamSettings.coerce("deploy")
    assert settings.prefix == "deploy"
    assert settings.subjects == ["deploy.>"]
    assert settings.expected() == {"subjects": ["deploy.>"]}
    assert settings.for_create() == {
        "storage": "file",
        "retention": "limits",
        "discard": "new",
        "subjects": ["deploy.>"],
    }
    custom = StreamSettings("s", subject_prefix="a.b", storage="memory", max_msgs=5)
    assert custom.expected() == {"subjects": ["a.b.>"], "storage": "memory", "max_msgs": 5}
    assert StreamSettings.coerce(custom) is custom


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "a.b"},
        {"name": ""},
        {"subject_prefix": "a.*"},
        {"subject_prefix": "a..b"},
        {"storage": "disk"},
        {"retention": "forever"},
        {"discard": "random"},
        {"max_bytes": 0},
        {"max_msgs": -1},
        {"max_age": 0.0},
        {"duplicate_window": float("inf")},
    ],
)
def test_bad_stream_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StreamSettings(**kwargs)  # type: ignore[arg-type]


def test_consumer_settings_validation_and_server_max_deliver() -> None:
    assert ConsumerSettings().server_max_deliver(dead_letters=True) == -1
    assert ConsumerSettings(max_deliver=3).server_max_deliver(dead_letters=False) == 3
    assert ConsumerSettings(max_deliver=3).server_max_deliver(dead_letters=True) == 4
    for kwargs in ({"ack_wait": 0}, {"max_deliver": 0}, {"max_ack_pending": 0}):
        with pytest.raises(ValueError):
            ConsumerSettings(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ConsumerSettings(deliver_policy="last")  # type: ignore[arg-type]


# -- URLs and credentials ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("nats://alice:s3cret@h:4222", "nats://alice:***@h:4222"),
        ("nats://s3cret@h:4222", "nats://***@h:4222"),
        ("tls://t0k@a:1,nats://u:p@b:2", "tls://***@a:1,nats://u:***@b:2"),
    ],
)
def test_urls_are_shown_without_secrets(url: str, shown: str) -> None:
    assert redact_nats_url(url) == shown
    assert ConnectOptions(url).safe_url == shown


@pytest.mark.parametrize("url", ["", "redis://h:6379", "nats://h:notaport", "nats://"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidBrokerURLError):
        ConnectOptions(url)


def test_credentials_hide_secrets_and_map_to_nats_py() -> None:
    creds = NatsCredentials(user="alice", password="s3cret", token=None, creds_file="/x.creds")
    assert "s3cret" not in repr(creds)
    assert "alice" in repr(creds)
    assert creds.connect_kwargs() == {
        "user": "alice",
        "password": "s3cret",
        "user_credentials": "/x.creds",
    }
    assert "t0k" not in repr(NatsCredentials(token="t0k"))


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_NATS_TOKEN", "t0k")
    assert NatsCredentials.from_env(token="MY_NATS_TOKEN").token == "t0k"
    monkeypatch.delenv("MY_NATS_TOKEN")
    with pytest.raises(BrokerAuthenticationError, match="MY_NATS_TOKEN"):
        NatsCredentials.from_env(token="MY_NATS_TOKEN")


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (nats.errors.NoServersError(), BackendUnavailableError),
        (nats.errors.ConnectionClosedError(), BackendUnavailableError),
        (nats.errors.UnexpectedEOF(), BackendUnavailableError),
        (ConnectionRefusedError(111, "refused"), BackendUnavailableError),
        (nats.errors.TimeoutError(), BackendTimeoutError),
        (asyncio.TimeoutError(), BackendTimeoutError),
        (nats.errors.AuthorizationError(), BackendAuthenticationError),
        (nats.errors.Error("nats: 'Authorization Violation'"), BackendAuthenticationError),
        (
            nats.errors.Error("nats: 'Permissions Violation for Publish'"),
            BackendAuthenticationError,
        ),
        (nats.errors.MaxPayloadError(), ObjectTooLargeError),
        (nats.errors.NoRespondersError(), BackendUnavailableError),
        (nats.errors.Error("nats: something odd"), BackendProtocolError),
        (
            nats.js.errors.ServiceUnavailableError(
                code=503, err_code=10077, description="maximum messages exceeded"
            ),
            BackendFullError,
        ),
        (
            nats.js.errors.APIError(code=400, err_code=10023, description="insufficient resources"),
            BackendFullError,
        ),
        (nats.js.errors.ServiceUnavailableError(code=503), BackendUnavailableError),
        (nats.js.errors.BadRequestError(code=400, err_code=10058), BackendProtocolError),
    ],
)
def test_nats_errors_are_translated(error: BaseException, expected: type[Exception]) -> None:
    translated = translate_error(error, "nats://h:1", "doing something")
    assert isinstance(translated, expected)
    assert not isinstance(translated, nats.errors.Error)
    assert "nats://h:1" in str(translated)


def test_foreign_errors_pass_through() -> None:
    error = KeyError("not ours")
    assert translate_error(error, "nats://h:1", "x") is error


def test_header_size_counts_what_nats_sends() -> None:
    headers = {"Nats-Msg-Id": "abc", "K": "v"}
    block = b"NATS/1.0\r\nNats-Msg-Id: abc\r\nK: v\r\n\r\n"
    assert header_size(headers) == len(block)
