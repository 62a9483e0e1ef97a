"""Creating or checking the deployment's stream and the subscribers' durable consumers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import nats.js.errors
from nats.js import JetStreamContext, api
from proxyflow.api import GroupBacklog
from proxyflow.shims.nats.exceptions import (
    ConsumerConfigMismatchError,
    StreamConfigMismatchError,
    StreamNotFoundError,
)
from proxyflow.shims.nats.settings import StreamSettings
from proxyflow.shims.nats.translation import translate_errors

__all__ = ["ConsumerSettings", "consumer_backlog", "ensure_consumer", "ensure_stream"]

_UNLIMITED = -1


def _same(wanted: object, actual: object) -> bool:
    if isinstance(wanted, float) or isinstance(actual, float):
        if not isinstance(wanted, (int, float)) or not isinstance(actual, (int, float)):
            return False
        return math.isclose(wanted, actual, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(wanted, list) and isinstance(actual, list):
        return sorted(map(str, wanted)) == sorted(map(str, actual))
    return str(wanted) == str(actual)


def _value(config: Any, key: str) -> object:
    value = getattr(config, key, None)
    return getattr(value, "value", value)  # nats-py enums -> their string


async def ensure_stream(js: JetStreamContext, settings: StreamSettings, url: str) -> str:
    """Create the stream if it is missing, else check it matches ``settings``.

    Returns the stream's retention (``"limits"``, ``"interest"`` or ``"workqueue"``).

    Raises:
        StreamNotFoundError: if the stream is missing and ``settings.create`` is false.
        StreamConfigMismatchError: if the existing stream differs from a setting given.
        BrokerUnavailableError: if JetStream does not answer.
    """
    with translate_errors(url, f"looking up the stream {settings.name!r}"):
        try:
            info = await js.stream_info(settings.name)
        except nats.js.errors.NotFoundError:
            info = None
    if info is None:
        if not settings.create:
            raise StreamNotFoundError(
                f"NATS at {url}: the stream {settings.name!r} does not exist and create=False; "
                "create it (nats stream add) or allow the shim to create it",
                url,
            )
        config = api.StreamConfig(name=settings.name, **settings.for_create())  # type: ignore[arg-type]
        with translate_errors(url, f"creating the stream {settings.name!r}"):
            try:
                await js.add_stream(config)
                return str(settings.for_create()["retention"])
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != 10058:  # created meanwhile by another process: check it
                    raise
            info = await js.stream_info(settings.name)
    differences = [
        f"{key}: asked {wanted!r}, the server has {_value(info.config, key)!r}"
        for key, wanted in settings.expected().items()
        if not _same(wanted, _value(info.config, key))
    ]
    if differences:
        raise StreamConfigMismatchError(
            f"NATS at {url}: the stream {settings.name!r} exists with another configuration ("
            + "; ".join(differences)
            + "); use the same settings everywhere, leave them at None to accept the "
            "server's, or name another stream",
            url,
        )
    return str(_value(info.config, "retention"))


@dataclass(frozen=True)
class ConsumerSettings:
    """What every subscriber sharing a durable name must agree on.

    Attributes:
        ack_wait: Seconds before an unsettled delivery is handed out again.
        max_deliver: Deliveries before the server gives up on a message (``None``: no limit).
        max_ack_pending: Unsettled deliveries the server allows at once (flow control).
        deliver_policy: ``"all"``: a new durable starts with the oldest message
            the stream holds; ``"new"``: with the messages sent after it was created.
    """

    ack_wait: float = 30.0
    max_deliver: int | None = None
    max_ack_pending: int = 1000
    deliver_policy: Literal["all", "new"] = "all"

    def __post_init__(self) -> None:
        if not (self.ack_wait > 0 and math.isfinite(self.ack_wait)):
            raise ValueError(f"ack_wait must be a positive number, got {self.ack_wait!r}")
        if self.max_deliver is not None and (
            not isinstance(self.max_deliver, int) or self.max_deliver < 1
        ):
            raise ValueError(f"max_deliver must be an int >= 1 or None, got {self.max_deliver!r}")
        if not isinstance(self.max_ack_pending, int) or self.max_ack_pending < 1:
            raise ValueError(f"max_ack_pending must be an int >= 1, got {self.max_ack_pending!r}")
        if self.deliver_policy not in ("all", "new"):
            raise ValueError(f"deliver_policy must be 'all' or 'new', got {self.deliver_policy!r}")

    def server_max_deliver(self, dead_letters: bool) -> int:
        """The ``max_deliver`` the server is given.

        With a dead-letter topic the server allows one delivery more: the shim
        receives that extra delivery and moves the message to the dead-letter
        topic instead of handing it out.
        """
        if self.max_deliver is None:
            return _UNLIMITED
        return self.max_deliver + 1 if dead_letters else self.max_deliver


async def ensure_consumer(
    js: JetStreamContext,
    stream: str,
    name: str,
    subject: str,
    settings: ConsumerSettings,
    *,
    dead_letters: bool,
    description: str,
    url: str,
) -> None:
    """Create the durable pull consumer ``name`` on ``subject``, or check the existing one.

    Raises:
        ConsumerConfigMismatchError: if it exists with other settings.
    """
    wanted: dict[str, object] = {
        "filter_subject": subject,
        "ack_policy": "explicit",
        "ack_wait": settings.ack_wait,
        "max_deliver": settings.server_max_deliver(dead_letters),
        "max_ack_pending": settings.max_ack_pending,
        "deliver_policy": settings.deliver_policy,
    }
    with translate_errors(url, f"looking up the consumer {name!r}"):
        try:
            info = await js.consumer_info(stream, name)
        except nats.js.errors.NotFoundError:
            info = None
    if info is None:
        config = api.ConsumerConfig(
            name=name,
            durable_name=name,
            description=description,
            filter_subject=subject,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=settings.ack_wait,
            max_deliver=settings.server_max_deliver(dead_letters),
            max_ack_pending=settings.max_ack_pending,
            deliver_policy=api.DeliverPolicy(settings.deliver_policy),
        )
        with translate_errors(url, f"creating the consumer {name!r}"):
            info = await js.add_consumer(stream, config)
    differences = [
        f"{key}: asked {value!r}, the server has {_value(info.config, key)!r}"
        for key, value in wanted.items()
        if not _same(value, _value(info.config, key))
    ]
    if differences:
        raise ConsumerConfigMismatchError(
            f"NATS at {url}: the durable consumer {name!r} of stream {stream!r} exists with "
            "other settings (" + "; ".join(differences) + "); every subscriber sharing a "
            "durable name must use the same settings (and the same dead_letter_topic "
            "choice). Use another durable name, or delete the consumer "
            f"('nats consumer rm {stream} {name}') to start afresh",
            url,
        )


async def consumer_backlog(js: JetStreamContext, stream: str, name: str, url: str) -> GroupBacklog:
    """Return what the durable consumer ``name`` has left: one consumer-info request.

    ``num_pending`` (messages of its subject not yet delivered to any of its
    subscribers) is the undelivered count; ``num_ack_pending`` (delivered and
    not acknowledged: held, given back with a delay, or held by a subscriber
    that died, until ``ack_wait`` hands them out again) the unacknowledged one.
    """
    with translate_errors(url, f"reading the backlog of the consumer {name!r}"):
        info = await js.consumer_info(stream, name)
    return GroupBacklog(int(info.num_pending or 0), int(info.num_ack_pending or 0))
