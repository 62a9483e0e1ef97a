"""The stream a deployment uses, described by the caller.

One JetStream stream holds every topic of a deployment, one subject per topic
under ``subject_prefix``. Publishers and subscribers create it when it is
missing (unless ``create=False``) and check it when it exists: a setting the
caller gave that differs from the server's raises
[`StreamConfigMismatchError`][proxyflow.shims.nats.exceptions.StreamConfigMismatchError].
Settings left at ``None`` take the server's default when the stream is
created and are not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from proxyflow.shims.nats.subjects import check_stream_name, check_subject_prefix

__all__ = ["DEFAULT_STREAM", "StreamSettings"]

DEFAULT_STREAM = "proxyflow"
"""The stream used when none is named; its subjects are ``proxyflow.<topic>``."""

Storage = Literal["file", "memory"]
Retention = Literal["limits", "interest", "workqueue"]
Discard = Literal["old", "new"]


def _check_positive(name: str, value: float | None) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number or None, got {value!r}")


@dataclass(frozen=True)
class StreamSettings:
    """The JetStream stream that carries a deployment's topics.

    Example:
        ```python
        from proxyflow.shims.nats import JetStreamPublisher, StreamSettings

        stream = StreamSettings("sims", storage="file", max_bytes=10 << 30)
        publisher = JetStreamPublisher("nats://127.0.0.1:4222", stream=stream)
        ```

    Attributes:
        name: The stream name (letters, digits, ``-``, ``_``).
        subject_prefix: Subjects are ``<subject_prefix>.<topic token>``;
            ``None`` uses ``name``.
        storage: ``"file"`` (survives a server restart) or ``"memory"``;
            ``None``: file when created, not checked.
        retention: ``"limits"`` keeps messages until a limit removes them
            (every durable consumer sees every message: fan-out between
            services); ``"workqueue"`` removes a message once acknowledged
            (one consumer per topic); ``"interest"`` removes it once every
            consumer acknowledged it, and keeps nothing while no consumer
            exists. ``None``: limits when created, not checked.
        max_bytes: Limit of the stream's size in bytes (``None``: no limit).
        max_msgs: Limit of the number of messages (``None``: no limit).
        max_age: Seconds a message is kept at most (``None``: forever).
        discard: What a full stream does: ``"new"`` refuses new messages
            (sends raise [`StreamFullError`][proxyflow.shims.nats.exceptions.StreamFullError]),
            ``"old"`` deletes the oldest, read or not (silent loss: opt in
            knowingly). ``None``: new when created, not checked.
        max_msg_size: Largest message the stream accepts (``None``: the server's).
        duplicate_window: Seconds during which a resent message id is
            recognised and stored once (``None``: the server's two minutes).
        create: Create the stream when it is missing; with ``False`` a
            missing stream raises
            [`StreamNotFoundError`][proxyflow.shims.nats.exceptions.StreamNotFoundError].

    Raises:
        ValueError: for an invalid name, prefix, limit or choice.
    """

    name: str = DEFAULT_STREAM
    subject_prefix: str | None = None
    storage: Storage | None = None
    retention: Retention | None = None
    max_bytes: int | None = None
    max_msgs: int | None = None
    max_age: float | None = None
    discard: Discard | None = None
    max_msg_size: int | None = None
    duplicate_window: float | None = None
    create: bool = True

    def __post_init__(self) -> None:
        check_stream_name(self.name)
        check_subject_prefix(self.prefix)
        choices: dict[str, tuple[str, ...]] = {
            "storage": ("file", "memory"),
            "retention": ("limits", "interest", "workqueue"),
            "discard": ("old", "new"),
        }
        for field, allowed in choices.items():
            value = getattr(self, field)
            if value is not None and value not in allowed:
                raise ValueError(f"{field} must be one of {allowed} or None, got {value!r}")
        for field in ("max_bytes", "max_msgs", "max_msg_size"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"{field} must be a positive int or None, got {value!r}")
        _check_positive("max_age", self.max_age)
        _check_positive("duplicate_window", self.duplicate_window)

    @classmethod
    def coerce(cls, stream: str | StreamSettings) -> StreamSettings:
        """Return ``stream`` itself, or settings naming it with every default."""
        return stream if isinstance(stream, StreamSettings) else cls(stream)

    @property
    def prefix(self) -> str:
        """The subject prefix in effect (``subject_prefix`` or ``name``)."""
        return self.subject_prefix if self.subject_prefix is not None else self.name

    @property
    def subjects(self) -> list[str]:
        """The stream's subject filter: every token under the prefix."""
        return [f"{self.prefix}.>"]

    def expected(self) -> dict[str, object]:
        """The settings to create with or check, as nats-py ``StreamConfig`` field values.

        Settings given as ``None`` are absent: they are not checked (a new
        stream takes the defaults of ``for_create``).
        """
        wanted: dict[str, object] = {"subjects": self.subjects}
        pairs: dict[str, object | None] = {
            "storage": self.storage,
            "retention": self.retention,
            "max_bytes": self.max_bytes,
            "max_msgs": self.max_msgs,
            "max_age": self.max_age,
            "discard": self.discard,
            "max_msg_size": self.max_msg_size,
            "duplicate_window": self.duplicate_window,
        }
        wanted.update({key: value for key, value in pairs.items() if value is not None})
        return wanted

    def for_create(self) -> dict[str, object]:
        """The full configuration a missing stream is created with."""
        config: dict[str, object] = {"storage": "file", "retention": "limits", "discard": "new"}
        config.update(self.expected())
        return config
