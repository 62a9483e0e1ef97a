"""Find connector classes by *kind* through the ``proxyflow.connectors`` entry points.

A connector distribution advertises its classes in its metadata:

```toml
[project.entry-points."proxyflow.connectors"]
file = "proxyflow.connectors.file:FileConnector"
```

so a store config only ever names the kind (``"file"``), never an import path.
Lookups are cached per process.
[`register_connector_class`][proxyflow.store.connector_registry.register_connector_class]
adds a class in-process without packaging (for tests and embedded plugins).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from proxyflow.store.exceptions import StoreConfigError, UnknownConnectorError
from proxyflow.store.protocols import Connector

__all__ = [
    "ENTRY_POINT_GROUP",
    "INSTALL_HINTS",
    "available_connector_kinds",
    "connector_class",
    "connector_from_config",
    "register_connector_class",
]

ENTRY_POINT_GROUP = "proxyflow.connectors"
"""The entry-point group in which connector classes are registered by kind."""

INSTALL_HINTS: Mapping[str, str] = {
    "local": "proxyflow-connectors",
    "file": "proxyflow-connectors",
    "redis": "proxyflow-connectors[redis]",
}
"""Distribution to install for each built-in connector kind."""

_lock = threading.Lock()
_classes: dict[str, type[Connector]] = {}


def _hint(kind: str) -> str:
    dist = INSTALL_HINTS.get(kind)
    if dist is not None:
        return f"install it with: pip install '{dist}'"
    return (
        f"install the distribution that registers the {kind!r} connector in the "
        f"{ENTRY_POINT_GROUP!r} entry-point group"
    )


def connector_class(kind: str) -> type[Connector]:
    """Return the connector class registered for ``kind``.

    Args:
        kind: A connector kind such as ``"local"``, ``"file"`` or ``"redis"``.

    Returns:
        The class (cached after the first lookup).

    Raises:
        UnknownConnectorError: If no installed distribution provides ``kind``
            or its module cannot be imported; the message names what to install.
    """
    with _lock:
        cls = _classes.get(kind)
    if cls is not None:
        return cls
    found = list(entry_points(group=ENTRY_POINT_GROUP, name=kind))
    if not found:
        known = ", ".join(available_connector_kinds()) or "none"
        raise UnknownConnectorError(
            kind, f"no connector of kind {kind!r} is installed (installed: {known}); {_hint(kind)}"
        )
    try:
        loaded = found[0].load()
    except Exception as exc:
        raise UnknownConnectorError(
            kind,
            f"the connector of kind {kind!r} is registered but cannot be imported "
            f"({type(exc).__name__}: {exc}); {_hint(kind)}",
        ) from exc
    if not isinstance(loaded, type):
        raise UnknownConnectorError(
            kind, f"the {kind!r} entry point does not name a class: {found[0].value}"
        )
    with _lock:
        return _classes.setdefault(kind, loaded)


def register_connector_class(kind: str, cls: type[Connector], *, overwrite: bool = False) -> None:
    """Make ``cls`` the connector class of ``kind`` in this process.

    Entry points are the normal way to provide a connector; this is for tests
    and for applications embedding their own connector.

    Args:
        kind: The connector kind (what ``cls.kind`` returns).
        cls: The connector class.
        overwrite: Replace a different class already known for ``kind``.

    Raises:
        StoreConfigError: If ``kind`` already maps to another class and
            ``overwrite`` is false.
    """
    with _lock:
        current = _classes.get(kind)
        if current is not None and current is not cls and not overwrite:
            raise StoreConfigError(f"connector kind {kind!r} is already bound to {current!r}")
        _classes[kind] = cls


def available_connector_kinds() -> list[str]:
    """Return the sorted connector kinds known in this process.

    Returns:
        Kinds from installed entry points plus those registered in-process.
    """
    kinds = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    with _lock:
        kinds.update(_classes)
    return sorted(kinds)


def connector_from_config(kind: str, options: Mapping[str, Any]) -> Connector:
    """Build a connector of ``kind`` from its ``config()`` options.

    Args:
        kind: The connector kind.
        options: The options from the connector's ``config()``.

    Returns:
        A new connector instance.

    Raises:
        UnknownConnectorError: If ``kind`` is not installed.
    """
    return connector_class(kind).from_config(dict(options))
