"""Checking of the option dicts given to ``from_config``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from proxyflow.connectors.exceptions import InvalidConfigError

__all__ = ["check_config"]


def check_config(
    kind: str,
    config: Any,
    *,
    required: Collection[str],
    optional: Collection[str] = (),
    types: Mapping[str, tuple[type, ...]] | None = None,
) -> dict[str, Any]:
    """Return ``config`` if it is a dict with the required options and no unknown ones.

    Configs come from other processes (inside stream events), so their values
    are checked too: ``types`` maps an option to the types it may have.

    Raises:
        InvalidConfigError: ``config`` is not a dict, lacks a required option,
            holds an option the connector does not know, or one of the wrong type.
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
    for name, allowed in (types or {}).items():
        if name not in config:
            continue
        value = config[name]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            expected = " or ".join(cls.__name__ for cls in allowed)
            raise InvalidConfigError(
                f"invalid {kind} connector config: option {name!r} must be {expected}, "
                f"not {type(value).__name__}"
            )
    return config
