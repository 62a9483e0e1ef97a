"""Which objects a producer or consumer drops: its ``keep=`` / ``filter_=`` choice."""

from __future__ import annotations

from typing import Any, NamedTuple

from proxyflow.stream.filters import NullFilter
from proxyflow.stream.protocols import MetadataPredicate

__all__ = ["Selection", "selection"]


class Selection(NamedTuple):
    """Which objects a producer or consumer drops, from its ``keep=`` / ``filter_=`` arguments.

    Attributes:
        predicate: The predicate to call, or ``None`` when nothing is dropped.
        keeps: Whether a true ``predicate`` keeps the object (``keep=``)
            rather than drops it (``filter_=``).
    """

    predicate: MetadataPredicate | None
    keeps: bool

    def drops(self, metadata: dict[str, Any]) -> bool:
        """Return whether the object with ``metadata`` is dropped."""
        predicate = self.predicate
        if predicate is None:
            return False
        return not predicate(metadata) if self.keeps else bool(predicate(metadata))


def selection(
    keep: MetadataPredicate | None, filter_: MetadataPredicate | None, owner: str
) -> Selection:
    """Check a ``keep=`` / ``filter_=`` pair and return what it selects.

    Args:
        keep: The predicate that keeps objects it is true for, or ``None``.
        filter_: The predicate that drops objects it is true for, or ``None``.
        owner: The class being constructed, for the error message.

    Raises:
        TypeError: If both are given, or one is not callable.
    """
    if keep is not None and filter_ is not None:
        raise TypeError(
            f"{owner}() takes keep= (True keeps the object) or filter_= (True drops it, "
            "as in ProxyStore), not both; combine predicates with all_of/any_of/negate"
        )
    chosen = keep if keep is not None else filter_
    if chosen is not None and not callable(chosen):
        name = "keep" if keep is not None else "filter_"
        raise TypeError(f"{name}= must be a callable(metadata) -> bool, not {chosen!r}")
    if isinstance(chosen, NullFilter) and filter_ is not None:
        chosen = None  # drops nothing: skip the call per object
    return Selection(chosen, keep is not None)
