"""Checking of the option dicts given to ``from_config``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from proxyflow.connectors.exceptions import InvalidConfigError

__all__ = ["check_config"]


def check_config(
    kind: str, config: Any, *, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    """Return ``config`` if it is a dict with the required options and no unknown ones.

    Raises:
        InvalidConfigError: ``config`` is not a dict, lacks a required option or
            holds an option the connector does not know.
    """
    if not isinstance(config, dict):
        raise InvalidConfigError(f"{kind} connector config must be a dict, not {config!r}")
    missing = sorted(set(required) - config.keys())
    unknown = sorted(config.keys() - set(required) - set(optional))
    if missing or unknown:
        raise InvalidConfigError(
            f"invalid {kind} connector config {config!r}: "
            f"missing options {missing}, unknown options {unknown}"
        )
    return config
