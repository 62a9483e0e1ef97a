"""redact_url: one answer for every URL shape proxyflow prints."""

from __future__ import annotations

import pytest

from proxyflow.api import redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://alice:s3cret@db:6379/0", "redis://alice:***@db:6379/0"),
        ("redis://:s3cret@db:6379", "redis://:***@db:6379"),
        ("redis://alice@db:6379", "redis://alice@db:6379"),
        ("redis://db:6379?password=s3cret&db=2", "redis://db:6379?password=***&db=2"),
        ("redis://db?PassWord=s3cret", "redis://db?PassWord=***"),
        ("rediss://u:p@[::1]:6380/1", "rediss://u:***@[::1]:6380/1"),
        ("unix:///tmp/r.sock", "unix:///tmp/r.sock"),
        ("unix:///tmp/r.sock?db=1&password=x", "unix:///tmp/r.sock?db=1&password=***"),
        ("unix://:pw@/tmp/r.sock", "unix://:***@/tmp/r.sock"),
        ("127.0.0.1:6379", "127.0.0.1:6379"),
        ("user:pw@127.0.0.1:6379", "user:***@127.0.0.1:6379"),
        ("nats://tok@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
        ("tls://tok@h:4222", "tls://***@h:4222"),
        ("nats://a:1,nats://u:p@b:2", "nats://a:1,nats://u:***@b:2"),
        ("nats://t@a:1, nats://t@b:2", "nats://***@a:1,nats://***@b:2"),
        ("nats://u:p@127.0.0.1:4222", "nats://u:***@127.0.0.1:4222"),
        ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555"),
        ("redis://db/0?socket_timeout=1", "redis://db/0?socket_timeout=1"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_secret_never_survives() -> None:
    for url in (
        "redis://u:topsecret@h",
        "redis://h?password=topsecret",
        "redis://h?token=topsecret",
        "u:topsecret@h:1",
    ):
        assert "topsecret" not in redact_url(url)
