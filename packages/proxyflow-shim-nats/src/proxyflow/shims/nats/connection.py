"""Connecting to NATS with the caller's credentials, and translating nats-py's errors.

Credentials come only from the caller: arguments of
[`NatsCredentials`][proxyflow.shims.nats.connection.NatsCredentials] or the
environment variables it is told to read. They never appear in a URL the shim
shows ([`redact_nats_url`][proxyflow.shims.nats.connection.redact_nats_url]),
in an error message or in a repr.

The first connection attempt fails fast (a refused connection or refused
credentials raise at once); once connected, nats-py reconnects by itself
after a lost connection (``max_reconnect_attempts`` tries,
``reconnect_time_wait`` apart). Sends made meanwhile wait for the server's
acknowledgement or fail with
[`BrokerTimeoutError`][proxyflow.shims.nats.exceptions.BrokerTimeoutError];
nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client
from proxyflow.api import redact_url
from proxyflow.shims.nats.exceptions import BrokerAuthenticationError, InvalidBrokerURLError
from proxyflow.shims.nats.translation import is_auth_error, translate_error

__all__ = ["ConnectOptions", "NatsCredentials", "open_connection", "redact_nats_url"]

log = logging.getLogger("proxyflow.shims.nats")

_SCHEMES = ("nats", "tls", "ws", "wss")


@dataclass(frozen=True, repr=False)
class NatsCredentials:
    """Credentials for a NATS server, given by the caller (never read from a shared config).

    Use one of: ``user`` and ``password``; ``token``; ``creds_file`` (a
    ``.creds`` file with a user JWT and NKey seed). Secrets are hidden from
    ``repr``.

    Example:
        ```python
        from proxyflow.shims.nats import JetStreamPublisher, NatsCredentials

        creds = NatsCredentials.from_env(token="MY_NATS_TOKEN")
        publisher = JetStreamPublisher("nats://broker:4222", credentials=creds)
        ```

    Attributes:
        user: User name.
        password: Password for ``user``.
        token: Authentication token.
        creds_file: Path of a ``.creds`` file.
    """

    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: str | Path | None = None

    @classmethod
    def from_env(
        cls,
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        creds_file: str | None = None,
    ) -> NatsCredentials:
        """Read credentials from the environment variables named by the arguments.

        Args:
            user: Name of the variable holding the user name.
            password: Name of the variable holding the password.
            token: Name of the variable holding the token.
            creds_file: Name of the variable holding the path of a ``.creds`` file.

        Raises:
            BrokerAuthenticationError: if a named variable is not set (the
                message names the variable, never a value).
        """
        names = {"user": user, "password": password, "token": token, "creds_file": creds_file}
        values: dict[str, str | None] = {}
        for key, variable in names.items():
            if variable is None:
                values[key] = None
                continue
            value = os.environ.get(variable)
            if not value:
                raise BrokerAuthenticationError(
                    f"the environment variable {variable} (NATS {key}) is not set; set it "
                    "in the environment of this process"
                )
            values[key] = value
        return cls(**values)

    def __repr__(self) -> str:
        shown = [f"user={self.user!r}"] if self.user is not None else []
        shown += [f"{k}='***'" for k in ("password", "token") if getattr(self, k) is not None]
        if self.creds_file is not None:
            shown.append(f"creds_file={str(self.creds_file)!r}")
        return f"NatsCredentials({', '.join(shown)})"

    def connect_kwargs(self) -> dict[str, object]:
        """Return the nats-py ``connect`` keyword arguments for these credentials."""
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs["user"] = self.user
        if self.password is not None:
            kwargs["password"] = self.password
        if self.token is not None:
            kwargs["token"] = self.token
        if self.creds_file is not None:
            kwargs["user_credentials"] = str(self.creds_file)
        return kwargs


def _split_servers(url: str) -> list[str]:
    if not isinstance(url, str) or not url.strip():
        raise InvalidBrokerURLError(f"a NATS URL must be a non-empty string, got {url!r}")
    servers = []
    for part in url.split(","):
        server = part.strip()
        if "://" not in server:
            server = f"nats://{server}"
        try:
            parts = urlsplit(server)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise InvalidBrokerURLError(
                f"not a NATS URL: {redact_nats_url(part)} ({exc})"
            ) from None
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise InvalidBrokerURLError(
                f"not a NATS URL: {redact_nats_url(part)}; use nats://host:port "
                "(or tls://, ws://, wss://), several separated by commas"
            )
        servers.append(server)
    return servers


redact_nats_url = redact_url
"""Alias of [`proxyflow.api.redact_url`][proxyflow.api.urls.redact_url] (it hides NATS tokens)."""


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach the server (internal: built from a publisher's or subscriber's arguments).

    Attributes:
        url: The URL as given (may hold secrets; never shown).
        credentials: Credentials from the caller.
        connect_timeout: Seconds one connection attempt may take.
        reconnect_time_wait: Seconds between reconnection attempts after a lost connection.
        max_reconnect_attempts: Attempts before giving up on a lost connection (``-1``: forever).
        name: Connection name shown by the server's monitoring.
    """

    url: str
    credentials: NatsCredentials = field(default_factory=NatsCredentials)
    connect_timeout: float = 5.0
    reconnect_time_wait: float = 1.0
    max_reconnect_attempts: int = 60
    name: str | None = None

    def __post_init__(self) -> None:
        _split_servers(self.url)
        if not self.connect_timeout > 0:
            raise ValueError(f"connect_timeout must be > 0, got {self.connect_timeout!r}")
        if not self.reconnect_time_wait >= 0:
            raise ValueError(f"reconnect_time_wait must be >= 0, got {self.reconnect_time_wait!r}")

    @property
    def safe_url(self) -> str:
        """The URL with its secrets hidden."""
        return redact_nats_url(self.url)


async def open_connection(
    options: ConnectOptions,
    *,
    on_reconnected: Callable[[], Awaitable[None]] | None = None,
    on_closed: Callable[[], Awaitable[None]] | None = None,
) -> Client:
    """Connect to NATS, failing fast on the first attempt; later losses are reconnected.

    Raises:
        BrokerUnavailableError: if no server accepts the connection.
        BrokerAuthenticationError: if the server refuses the credentials.
        BrokerTimeoutError: if connecting takes longer than ``connect_timeout``.
    """
    errors: list[BaseException] = []

    async def error_cb(exc: Exception) -> None:
        errors.append(exc)
        log.debug("NATS %s: %s", options.safe_url, exc)

    async def reconnected_cb() -> None:
        if on_reconnected is not None:
            await on_reconnected()

    async def closed_cb() -> None:
        if on_closed is not None:
            await on_closed()

    client = Client()
    try:
        await asyncio.wait_for(
            client.connect(
                _split_servers(options.url),
                error_cb=error_cb,
                reconnected_cb=reconnected_cb,
                closed_cb=closed_cb,
                name=options.name,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                connect_timeout=options.connect_timeout,  # type: ignore[arg-type]
                **options.credentials.connect_kwargs(),  # type: ignore[arg-type]
            ),
            timeout=options.connect_timeout * 2 + 1,
        )
    except BaseException as exc:
        await _discard(client)
        if isinstance(exc, asyncio.CancelledError):
            raise
        cause: BaseException = exc
        if errors and isinstance(exc, (nats.errors.NoServersError, asyncio.TimeoutError)):
            cause = errors[-1]  # the reason of the last attempt, not "no servers"
        cause = next((e for e in errors if is_auth_error(e)), cause)
        raise translate_error(cause, options.safe_url, "connecting") from exc
    # Connected: from now on a lost connection is re-established in the background.
    client.options["allow_reconnect"] = True
    client.options["max_reconnect_attempts"] = options.max_reconnect_attempts
    client.options["reconnect_time_wait"] = options.reconnect_time_wait
    return client


async def _discard(client: Client) -> None:
    try:
        await client.close()
    except Exception as exc:  # pragma: no cover - closing a half-open client
        log.debug("closing a failed NATS connection: %s", exc)
