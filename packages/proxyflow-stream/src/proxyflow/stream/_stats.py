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
        lost: Events that never arrived: gaps in a producer's sequence
            numbers on a topic, including events missing before its
            end-of-stream (tracked on fan-out subscribers only; a
            work-sharing subscriber sees a share of them by design).
        duplicates: Events that arrived again (a sequence number seen
            already); they are dropped, not handed out twice.
        redelivered: Deliveries of an acknowledging subscriber that came
            again: the broker's delivery count is above 1, or an object's
            (producer id, topic, sequence number) was seen already.
        acked: Deliveries acknowledged (end-of-stream events included).
        nacked: Deliveries given back for redelivery.
        rejected: Deliveries rejected (dead-lettered): bad messages, missing
            objects, disallowed stores and ``reject()``.
        evict_retries: Acknowledged objects whose eviction failed (the
            store was down) and was kept to be tried again: after a later
            eviction from the same store succeeds, and when the consumer
            closes (at most 1000 are kept at a time).
        evict_failures: Acknowledged objects finally left in their store:
            their eviction still failed when the consumer closed, or came when
            1000 failed evictions were kept already. Each is logged on the
            ``proxyflow.stream`` logger; nothing is lost.
        untrusted: Events (or stored objects) refused by the trust policy or
            the signing key and skipped (only with ``on_decode_error="skip"``):
            untrusted locations, unsigned, forged or replayed events, objects
            whose bytes do not match their digest. Not counted in
            ``skipped_bad_messages``.
    """

    events: int = 0
    objects: int = 0
    skipped_bad_messages: int = 0
    filtered: int = 0
    lost: int = 0
    duplicates: int = 0
    redelivered: int = 0
    acked: int = 0
    nacked: int = 0
    rejected: int = 0
    evict_retries: int = 0
    evict_failures: int = 0
    untrusted: int = 0
