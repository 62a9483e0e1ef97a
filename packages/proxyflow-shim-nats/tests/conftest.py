from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import nats
import nats.js.errors
import pytest


async def _delete_stream(url: str, name: str) -> None:
    client = await nats.connect(url, allow_reconnect=False, connect_timeout=2)
    try:
        await client.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await client.close()


def delete_stream(url: str, name: str) -> None:
    """Remove a test's stream from the (session-wide) server."""
    with contextlib.suppress(Exception):  # the test may have stopped the server itself
        asyncio.run(_delete_stream(url, name))


@pytest.fixture
def stream(nats_url: str) -> Iterator[str]:
    """A stream name of its own for each test (subjects ``<name>.<topic>``), deleted afterwards."""
    name = f"T{uuid.uuid4().hex[:16]}"
    yield name
    delete_stream(nats_url, name)
