"""The command line names unreachable backends without their passwords."""

from __future__ import annotations

import pytest

from proxyflow.cli.backends import check_reachable
from proxyflow.cli.exceptions import BackendUnreachableError
from proxyflow.cli.options import BrokerSpec, StoreSpec

pytest.importorskip("redis")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # Regression: the command line's own redactor printed query passwords.
        ("redis://127.0.0.1:1/0?password=topsecret", "redis://127.0.0.1:1/0?password=***"),
        ("redis://alice:topsecret@127.0.0.1:1/0", "redis://alice:***@127.0.0.1:1/0"),
    ],
)
def test_unreachable_redis_is_named_without_its_password(url: str, shown: str) -> None:
    with pytest.raises(BackendUnreachableError) as info:
        check_reachable(BrokerSpec("redis", url), StoreSpec("file"), timeout=2.0)
    message = str(info.value)
    assert "topsecret" not in message
    assert f"cannot reach Redis at {shown}:" in message
    assert info.value.option == "--broker"
