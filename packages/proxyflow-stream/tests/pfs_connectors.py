"""Local connectors to instrument, shared by the stream tests.

The stream tests' connector doubles (``SpyConnector`` in conftest, the gated and
thread-recording ones of the asyncio tests) subclass `DelegatingConnector` and
override only the calls they count, gate or record. `FullAfter` is a local
connector that runs out of room, for the honest-send tests (sync and asyncio).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proxyflow.api import BackendFullError
from proxyflow.connectors.local import LocalConnector


class DelegatingConnector:
    """Passes every connector call to its own `LocalConnector` (``inner``)."""

    kind = "local"

    def __init__(self) -> None:
        self.inner = LocalConnector()

    def put(self, data: Any) -> Any:
        return self.inner.put(data)

    def put_batch(self, datas: Sequence[Any]) -> list[Any]:
        return self.inner.put_batch(datas)

    def get(self, key: Any, *, evict: bool = False) -> Any:
        return self.inner.get(key, evict=evict)

    def get_batch(self, keys: Sequence[Any], *, evict: bool = False) -> list[Any]:
        return self.inner.get_batch(keys, evict=evict)

    def exists(self, key: Any) -> bool:
        return self.inner.exists(key)

    def evict(self, key: Any) -> None:
        self.inner.evict(key)

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LocalConnector:
        return LocalConnector.from_config(config)

    def close(self) -> None:
        self.inner.close()


class FullAfter(LocalConnector):
    """A local connector whose storage fills up after ``room`` objects."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def put(self, data: Any) -> Any:
        if self.room <= 0:
            raise BackendFullError("no room left")
        self.room -= 1
        return super().put(data)

    def put_batch(self, datas: Sequence[Any]) -> list[Any]:
        stored: list[Any] = []
        try:
            for data in datas:
                stored.append(self.put(data))
        except BackendFullError:
            for key in stored:
                self.evict(key)
            raise
        return stored

    def stored(self) -> int:
        """How many objects the connector holds."""
        return int(self.stats()["objects"])
