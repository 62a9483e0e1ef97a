"""The `StoreConfig` record: everything needed to rebuild a store elsewhere."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from proxyflow.serialize import DEFAULT_SERIALIZER
from proxyflow.store.exceptions import StoreConfigError

__all__ = ["StoreConfig"]

_REQUIRED = ("name", "connector", "options")


@dataclasses.dataclass(frozen=True, eq=False)
class StoreConfig:
    """A frozen, JSON-serializable description of a [`Store`][proxyflow.store.Store].

    A config travels with every stream event and every store-backed proxy, so
    another process can rebuild an equivalent store with
    [`Store.from_config`][proxyflow.store.store.Store.from_config]. It holds
    only *names*: the connector **kind** (resolved through the
    ``proxyflow.connectors`` entry points, never an import path), the
    connector's own options (which by the connector contract hold no secrets
    and no destructive flags), and the registered **serializer** name.

    ``options`` is normalised through JSON when the config is created (tuples
    become lists) and must not be mutated. Two configs are equal, and hash the
    same, when their canonical JSON
    ([`cache_key`][proxyflow.store.config.StoreConfig.cache_key]) is the same.

    Args:
        name: The store name.
        connector: The connector kind, e.g. ``"file"``.
        options: The connector's ``config()`` output.
        serializer: The registered serializer name (``"custom"`` for an
            unregistered callable).
        cache_size: Entries in the store's cache of deserialized objects.

    Raises:
        StoreConfigError: If a field has the wrong type or ``options`` is not
            JSON-serializable.

    Examples:
        >>> from proxyflow.store import StoreConfig
        >>> cfg = StoreConfig("data", "file", {"store_dir": "/tmp/pf"})
        >>> StoreConfig.from_json(cfg.to_json()) == cfg
        True
    """

    name: str
    connector: str
    options: Mapping[str, Any]
    serializer: str = DEFAULT_SERIALIZER
    cache_size: int = 16

    def __post_init__(self) -> None:
        problems = []
        for field in ("name", "connector", "serializer"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                problems.append(f"{field} must be a non-empty str, got {value!r}")
        if not isinstance(self.options, Mapping):
            problems.append(f"options must be a mapping, got {type(self.options).__name__}")
        elif not all(isinstance(k, str) for k in self.options):
            problems.append("options keys must all be str")
        size = self.cache_size
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            problems.append(f"cache_size must be an int >= 0, got {size!r}")
        if problems:
            raise StoreConfigError("invalid store config: " + "; ".join(problems))
        try:
            key = json.dumps(
                {
                    "name": self.name,
                    "connector": self.connector,
                    "options": dict(self.options),
                    "serializer": self.serializer,
                    "cache_size": self.cache_size,
                },
                sort_keys=True,
                separators=(",", ":"),
                allow_nan=False,
            )
        except (TypeError, ValueError) as exc:
            raise StoreConfigError(
                f"store config options are not JSON-serializable: {exc}"
            ) from exc
        object.__setattr__(self, "options", json.loads(key)["options"])
        object.__setattr__(self, "_cache_key", key)

    @property
    def cache_key(self) -> str:
        """The canonical JSON text of this config (sorted keys); usable as a dict key."""
        key: str = self.__dict__["_cache_key"]
        return key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoreConfig):
            return NotImplemented
        return self.cache_key == other.cache_key

    def __hash__(self) -> int:
        return hash(self.cache_key)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain JSON-serializable dict (a fresh copy)."""
        return {
            "name": self.name,
            "connector": self.connector,
            "options": json.loads(json.dumps(self.options)),
            "serializer": self.serializer,
            "cache_size": self.cache_size,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoreConfig:
        """Build a config from a mapping.

        The inverse of [`to_dict`][proxyflow.store.config.StoreConfig.to_dict].

        Args:
            data: A mapping with the fields ``name``, ``connector``,
                ``options`` and optionally ``serializer`` and ``cache_size``.

        Returns:
            The config.

        Raises:
            StoreConfigError: Naming any unknown or missing fields, or a field
                with the wrong type.
        """
        if not isinstance(data, Mapping):
            raise StoreConfigError(f"a store config must be a mapping, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in fields)
        missing = [f for f in _REQUIRED if f not in data]
        if unknown or missing:
            parts = []
            if unknown:
                parts.append(f"unknown fields: {', '.join(unknown)}")
            if missing:
                parts.append(f"missing fields: {', '.join(missing)}")
            raise StoreConfigError("invalid store config: " + "; ".join(parts))
        return cls(**data)

    def to_json(self) -> str:
        """Return the canonical JSON text of this config.

        The same text as [`cache_key`][proxyflow.store.config.StoreConfig.cache_key].
        """
        return self.cache_key

    @classmethod
    def from_json(cls, text: str | bytes) -> StoreConfig:
        """Build a config from JSON text.

        The inverse of [`to_json`][proxyflow.store.config.StoreConfig.to_json].

        Args:
            text: JSON text of an object.

        Returns:
            The config.

        Raises:
            StoreConfigError: If the text is not valid JSON or not a valid config.
        """
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise StoreConfigError(f"store config is not valid JSON: {exc}") from exc
        return cls.from_dict(data)
