"""The options of a Streams subscriber, checked once (shared by the sync and asyncio forms)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from proxyflow.api import check_timeout
from proxyflow.shims.redis.stream_keys import StreamKeys, check_name, default_consumer_name

__all__ = ["DeliverPolicy", "GroupSettings"]

DeliverPolicy = Literal["all", "new"]
"""Where a new consumer group starts: every entry kept (``"all"``) or new entries only."""


@dataclass(frozen=True)
class GroupSettings:
    """The options of a Streams subscriber, checked.

    Raises:
        ValueError: for a value out of range (the message names the option).
        TypeError: for a group, consumer or topic that is not a string.
    """

    topics: tuple[str, ...]
    group: str
    consumer: str | None
    keys: StreamKeys
    visibility_timeout: float
    max_deliveries: int | None
    dead_letter: str | None
    batch: int
    claim_interval: float | None
    deliver_policy: DeliverPolicy
    consumer_name: str = field(init=False)
    visibility_ms: int = field(init=False)
    reclaim_every: float = field(init=False)

    def __post_init__(self) -> None:
        check_name("group", self.group)
        set_ = object.__setattr__
        set_(
            self, "consumer_name", check_name("consumer", self.consumer or default_consumer_name())
        )
        if not self.visibility_timeout > 0 or math.isinf(self.visibility_timeout):
            raise ValueError(
                f"visibility_timeout must be > 0 seconds, got {self.visibility_timeout!r}"
            )
        set_(self, "visibility_ms", max(1, round(self.visibility_timeout * 1000)))
        if self.max_deliveries is not None and (
            not isinstance(self.max_deliveries, int) or self.max_deliveries < 1
        ):
            raise ValueError(
                f"max_deliveries must be an int >= 1 or None, got {self.max_deliveries!r}"
            )
        if not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {self.batch!r}")
        if self.deliver_policy not in ("all", "new"):
            raise ValueError(f"deliver_policy must be 'all' or 'new', got {self.deliver_policy!r}")
        if self.dead_letter is not None:
            check_name("dead_letter", self.dead_letter)
            if self.dead_letter in self.topics:
                raise ValueError(
                    f"the dead-letter topic {self.dead_letter!r} is also read by this subscriber: "
                    "pass dead_letter=None (or another topic) to read dead letters"
                )
        every = self.claim_interval
        if every is None:
            every = min(self.visibility_timeout / 2, 5.0)
        elif not every > 0:
            raise ValueError(f"claim_interval must be > 0 seconds, got {every!r}")
        set_(self, "reclaim_every", every)

    @property
    def start_id(self) -> str:
        """Where a new group starts reading: ``"0"`` (everything kept) or ``"$"`` (new entries)."""
        return "0" if self.deliver_policy == "all" else "$"

    @property
    def dead_letter_key(self) -> str | None:
        """The stream key of the dead letters, or ``None``."""
        return None if self.dead_letter is None else self.keys.key(self.dead_letter)

    def check_delay(self, delay: float | None) -> None:
        """Raise ``ValueError`` unless ``delay`` is ``None`` or in ``[0, visibility_timeout]``."""
        check_timeout(delay, "delay")
        if delay is not None and delay > self.visibility_timeout:
            raise ValueError(
                f"nack(delay={delay}) exceeds the visibility timeout ({self.visibility_timeout}s): "
                "Redis hands an entry out again once it was idle that long; build the "
                "subscriber with a longer visibility_timeout for longer delays"
            )
