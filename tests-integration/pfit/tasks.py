"""Tasks the dispatch tests run in worker processes (importable by name)."""

from __future__ import annotations

import hashlib
from typing import Any

from proxyflow.proxy import Proxy, extract, is_resolved


def digest(obj: Any) -> tuple[bool, str]:
    """(arrived unresolved, sha256 of the object's bytes), resolving a proxy."""
    unresolved = type(obj) is Proxy and not is_resolved(obj)
    data = extract(obj) if type(obj) is Proxy else obj
    return unresolved, hashlib.sha256(bytes(data)).hexdigest()


def check_sample(obj: Any) -> int:
    """Resolve a sample in the worker; fail on the one marked bad (a poison object)."""
    sample = extract(obj) if type(obj) is Proxy else obj
    if sample["bad"]:
        raise ValueError(f"sample {sample['i']} is corrupt")
    return int(sample["i"]) * 10
