from __future__ import annotations

import pytest

from proxyflow.cli.exceptions import InvalidOptionError
from proxyflow.cli.options import BrokerSpec, StoreSpec, parse_broker, parse_size, parse_store


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("4096", 4096),
        ("64KiB", 64 * 1024),
        ("64kib", 64 * 1024),
        ("1MiB", 1024**2),
        ("1.5MiB", 1536 * 1024),
        ("2MB", 2_000_000),
        ("3k", 3072),
        ("1GiB", 1024**3),
        (" 8 KiB ", 8192),
    ],
)
def test_parse_size_accepts_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "12XB", "-1KiB", "0", "2GiB", "1..2MiB", "MiB"])
def test_parse_size_rejects_bad_values(text: str) -> None:
    with pytest.raises(InvalidOptionError):
        parse_size(text)


def test_parse_broker() -> None:
    assert parse_broker("zmq") == BrokerSpec("zmq")
    assert parse_broker("ZMQ") == BrokerSpec("zmq")
    assert parse_broker("redis://h:1/2") == BrokerSpec("redis", "redis://h:1/2")
    assert parse_broker("redis-queue://h:1/0") == BrokerSpec("redis-queue", "redis://h:1/0")


@pytest.mark.parametrize("text", ["kafka://h:1", "redis://", "redis-queue:///0", "tcp://x", ""])
def test_parse_broker_rejects_bad_values(text: str) -> None:
    with pytest.raises(InvalidOptionError):
        parse_broker(text)


def test_parse_store(tmp_path: object) -> None:
    assert parse_store("file") == StoreSpec("file")
    assert parse_store("redis://h:6379/0") == StoreSpec("redis", "redis://h:6379/0")
    assert parse_store(str(tmp_path)) == StoreSpec("file", str(tmp_path))


@pytest.mark.parametrize("text", ["", "  ", "s3://bucket", "redis://"])
def test_parse_store_rejects_bad_values(text: str) -> None:
    with pytest.raises(InvalidOptionError):
        parse_store(text)


def test_descriptions_hide_nothing_important() -> None:
    assert "ZeroMQ" in BrokerSpec("zmq").describe()
    assert "queue" in BrokerSpec("redis-queue", "redis://h/0").describe()
    assert "temporary" in StoreSpec("file").describe()


@pytest.mark.parametrize(
    "url",
    ["redis://:s3cret@h:6379/0", "redis://alice:s3cret@h/1", "redis://h:6379/0?password=s3cret"],
)
def test_descriptions_and_reprs_hide_redis_passwords(url: str) -> None:
    texts = [
        BrokerSpec("redis", url).describe(),
        BrokerSpec("redis-queue", url).describe(),
        StoreSpec("redis", url).describe(),
        repr(BrokerSpec("redis", url)),
        repr(StoreSpec("redis", url)),
        repr(parse_broker(url)),
        repr(parse_store(url)),
    ]
    for text in texts:
        assert "s3cret" not in text
        assert "***" in text
        assert "h" in text


@pytest.mark.parametrize("text", ["redis://:s3cret@/0", "redis-queue://:s3cret@/0"])
def test_a_url_without_host_is_refused_without_its_password(text: str) -> None:
    with pytest.raises(InvalidOptionError, match="names no host") as caught:
        parse_broker(text)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(InvalidOptionError) as caught:
        parse_store(text.replace("redis-queue://", "redis://"))
    assert "s3cret" not in str(caught.value)
