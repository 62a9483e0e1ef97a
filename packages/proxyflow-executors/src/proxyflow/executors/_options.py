"""The dispatcher's options, checked once against its source."""

from __future__ import annotations

from dataclasses import dataclass

from proxyflow.executors.protocols import AckingItemSource, ItemSource

__all__ = ["DispatchOptions"]


@dataclass(frozen=True)
class DispatchOptions:
    """What a dispatcher was asked to do, and what its source lets it do.

    Attributes:
        max_in_flight: Items held at once.
        ordered: Yield results in stream order.
        retries: Attempts after the first (local) or deliveries (``redeliver``).
        retry_delay: Seconds before each retry.
        timeout: Seconds to wait for anything to happen; ``None``: forever.
        redeliver: Retry failed items through the broker.
        acking: Tell the source what became of each item.
        rejecting: The source can dead-letter items (``reject``).
    """

    max_in_flight: int
    ordered: bool
    retries: int
    retry_delay: float
    timeout: float | None
    redeliver: bool
    acking: bool
    rejecting: bool

    @classmethod
    def check(
        cls,
        source: ItemSource,
        *,
        max_in_flight: int,
        ordered: bool,
        retries: int,
        retry_delay: float,
        timeout: float | None,
        acknowledge: bool | None,
        redeliver: bool,
    ) -> DispatchOptions:
        """Check the options a dispatcher was given against each other and ``source``.

        Raises:
            ValueError: For a ``max_in_flight`` below 1, negative ``retries``,
                ``retry_delay`` or ``timeout``.
            TypeError: If the source cannot do what was asked (see ``Dispatcher``).
        """
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        if retry_delay < 0:
            raise ValueError(f"retry_delay must be >= 0, got {retry_delay!r}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        can_ack = isinstance(source, AckingItemSource) and getattr(source, "acknowledges", True)
        if (acknowledge or redeliver) and not can_ack:
            option = "redeliver" if redeliver else "acknowledge"
            raise TypeError(
                f"{option}=True needs a source with ack() and nack() that acknowledges; "
                f"{type(source).__name__} does not (a StreamConsumer acknowledges when its "
                "subscriber is an AckingSubscriber: Redis Streams, NATS JetStream)"
            )
        if can_ack and acknowledge is not False and getattr(source, "ack_mode", None) == "auto":
            raise TypeError(
                'the consumer acknowledges on its own (ack="auto"): each item would be '
                "acknowledged when the next is read, before its task finished; create it "
                'with StreamConsumer(..., ack="manual") (or pass acknowledge=False)'
            )
        if redeliver and not callable(getattr(source, "delivery_count", None)):
            raise TypeError(
                f"redeliver=True needs a source with delivery_count(item); "
                f"{type(source).__name__} has none"
            )
        acking = can_ack if acknowledge is None else acknowledge
        return cls(
            max_in_flight=max_in_flight,
            ordered=ordered,
            retries=retries,
            retry_delay=retry_delay,
            timeout=timeout,
            redeliver=redeliver,
            acking=acking,
            rejecting=acking and callable(getattr(source, "reject", None)),
        )
