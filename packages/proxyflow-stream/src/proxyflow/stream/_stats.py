"""The counters a `StreamConsumer` keeps (re-exported by ``proxyflow.stream.consumer``)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConsumerStats"]


@dataclass
class ConsumerStats:
    """Counters of a `StreamConsumer` (read them, do not write them).

    Attributes:
        events: Messages decoded successfully (a batch counts once,
            end-of-stream events count too).
        objects: Objects (or proxies) handed to the caller.
        skipped_bad_messages: Messages skipped because they could not be
            decoded (only with ``on_decode_error="skip"``).
        filtered: Objects dropped by the consumer's ``keep`` / ``filter_``.
    """

    events: int = 0
    objects: int = 0
    skipped_bad_messages: int = 0
    filtered: int = 0
