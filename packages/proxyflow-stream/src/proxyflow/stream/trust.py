"""Which stores an event may point a consumer at, and with which client settings.

An event carries the config of the store holding its object: a connector
kind, a **location** (a directory; a Redis server, database and key prefix)
and possibly **client settings** (timeouts, the name of the environment
variable holding a password). Whoever can publish on a topic writes these.
A [`StreamConsumer`][proxyflow.stream.StreamConsumer] therefore applies a
`TrustPolicy` before it builds a store from an event:

* **Client settings never come from an event.** Every option outside the
  connector's ``location_options`` is dropped; the consumer uses the
  connector's defaults, or the ``client_options`` of the `TrustedLocation`
  that matched. So an event cannot choose a timeout, nor make the consumer
  send the password of one of its environment variables anywhere.
* **A location named by an event is used only if this process trusts it**:
  it is the location of a store registered in this process under the
  event's store name, or of a store a
  [`StreamProducer`][proxyflow.stream.StreamProducer] of this process writes
  to (so a producer and a consumer in one process need no setting), or it
  matches an entry of ``trusted_locations`` (default: the environment
  variable `TRUSTED_LOCATIONS_ENV`), or the event was signed with the
  consumer's signing key. Stores of the ``local`` connector live in this
  process's memory and are named by a random id, so they are trusted too.
  Anything else raises
  [`UntrustedLocationError`][proxyflow.stream.exceptions.UntrustedLocationError]
  before any file is opened or any connection made.

``store_overrides`` of the consumer come first: an event naming an
overridden store name uses the consumer's store, whatever its location says.

Examples:
    >>> from proxyflow.stream.trust import TrustedLocation
    >>> TrustedLocation("file:/data/pf").kind
    'file'
    >>> TrustedLocation("redis://10.0.0.5:6379/0", {"socket_timeout": 1.0}).kind
    'redis'
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from proxyflow.store import Store, StoreConfig, connector_class, get_store
from proxyflow.stream.exceptions import UntrustedLocationError

__all__ = [
    "TRUSTED_LOCATIONS_ENV",
    "TRUST_ALL",
    "Location",
    "TrustPolicy",
    "TrustedLocation",
    "location_of",
    "remember_location",
]

TRUSTED_LOCATIONS_ENV = "PROXYFLOW_TRUSTED_LOCATIONS"
"""Environment variable read when a consumer gets no ``trusted_locations=``.

Comma-separated entries in the string forms of `TrustedLocation` (``file:/dir``,
``redis://host:port/db``, ``rediss://...``, ``unix:///path?db=n``), or
`TRUST_ALL`. Unset or empty: no entry.
"""

TRUST_ALL = "*"
"""The ``trusted_locations`` entry that trusts every location an event names.

For deployments where everyone who can publish on the topics is trusted.
Client settings still never come from events.
"""

_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
_REDIS_PORT = 6379


class Location(NamedTuple):
    """Where a store's data lives, in a canonical form that can be compared.

    Attributes:
        kind: The connector kind.
        place: The canonical location: an absolute normalised directory for
            ``file``; ``scheme://host:port/db`` (or ``unix://path?db=n``) for
            ``redis``; the JSON of the location options for other kinds.
        detail: Location options beyond ``place`` (the Redis key prefix), as JSON.
    """

    kind: str
    place: str
    detail: str


def _redis_place(url: str) -> str:
    """``scheme://host:port/db`` (``unix://path?db=n``) of a Redis URL, without user or options."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _REDIS_SCHEMES:
        raise ValueError(f"not a redis://, rediss:// or unix:// URL: {url!r}")
    query = dict(parse_qsl(parts.query))
    db_text = query.get("db")
    if not db_text and scheme != "unix":
        db_text = parts.path.strip("/")
    try:
        db = int(db_text or 0)
    except ValueError:
        raise ValueError(f"bad database number in Redis URL {url!r}") from None
    if scheme == "unix":
        return f"unix://{os.path.normpath(parts.path)}?db={db}"
    try:
        port = parts.port or _REDIS_PORT
    except ValueError:
        raise ValueError(f"bad port in Redis URL {url!r}") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"no host in Redis URL {url!r}")
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}/{db}"


def _file_place(directory: Any) -> str:
    if not isinstance(directory, str) or not os.path.isabs(directory):
        raise ValueError(f"a file store directory must be an absolute path, got {directory!r}")
    return os.path.normpath(directory)


def _location_keys(kind: str) -> frozenset[str] | None:
    keys = getattr(connector_class(kind), "location_options", None)
    return None if keys is None else frozenset(keys)


def location_of(config: StoreConfig) -> Location:
    """Return the canonical location of a store config.

    Raises:
        UntrustedLocationError: If the location cannot be read (a relative
            directory, a malformed URL, a connector kind that does not
            declare its ``location_options``).
        UnknownConnectorError: If the connector kind is not installed.
    """
    kind = config.connector
    keys = _location_keys(kind)
    if keys is None:
        raise UntrustedLocationError(
            f"store {config.name!r}: connector kind {kind!r} does not declare which options "
            "are its location (location_options), so an event cannot name a store of it; "
            "pass the store in store_overrides="
        )
    options = {k: v for k, v in config.options.items() if k in keys}
    try:
        if kind == "file":
            place, rest = _file_place(options.pop("store_dir", None)), options
        elif kind == "redis":
            url = options.pop("url", None)
            if not isinstance(url, str):
                raise ValueError("no url")
            place, rest = _redis_place(url), options
        else:
            place, rest = json.dumps(options, sort_keys=True), {}
    except ValueError as exc:
        raise UntrustedLocationError(
            f"store {config.name!r} names an unusable {kind} location: {exc}"
        ) from None
    return Location(kind, place, json.dumps(rest, sort_keys=True))


@dataclass(frozen=True)
class TrustedLocation:
    """A location events may name, and the client settings this consumer uses there.

    String forms (``location``):

    * ``"file:/data/pf"`` (or ``"file:///data/pf"``): that directory and every
      directory below it (a relative path is taken from the current directory);
    * ``"redis://host:6379/0"``, ``"rediss://..."``, ``"unix:///run/redis.sock?db=0"``:
      that Redis database, any key prefix. The URL given here (with a user
      name or TLS options, never a password) is the one the consumer
      connects to; the event's own URL only has to name the same host, port
      and database.

    Args:
        location: The location, in one of the forms above.
        client_options: Client settings for stores built there (for Redis:
            ``socket_timeout``, ``connect_timeout``, ``password_env``); the
            connector's defaults otherwise.

    Raises:
        ValueError: If ``location`` has none of the forms above or
            ``client_options`` holds an option that is not a client
            setting of the connector.
    """

    location: str
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        text = self.location
        if not isinstance(text, str):
            raise ValueError(f"a trusted location must be a str, got {text!r}")
        scheme = text.partition(":")[0].lower()
        if scheme == "file":
            path = text[len("file:") :]
            if path.startswith("//"):
                path = path[2:]
            if not path:
                raise ValueError(f"trusted location {text!r} names no directory")
            kind, place = "file", _file_place(os.path.abspath(path))
        elif scheme in _REDIS_SCHEMES:
            kind, place = "redis", _redis_place(text)
        else:
            raise ValueError(
                f"trusted location {text!r} must start with file:, redis://, rediss:// or unix://"
            )
        allowed: frozenset[str] = getattr(connector_class(kind), "client_options", frozenset())
        unknown = sorted(set(self.client_options) - set(allowed))
        if unknown:
            raise ValueError(
                f"client_options {unknown} of trusted location {text!r} are not client "
                f"settings of the {kind} connector (those are {sorted(allowed)})"
            )
        object.__setattr__(self, "client_options", dict(self.client_options))
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_place", place)

    @property
    def kind(self) -> str:
        """The connector kind this location is for."""
        kind: str = self.__dict__["_kind"]
        return kind

    def matches(self, location: Location) -> bool:
        """Return whether ``location`` is this location (or, for a directory, below it)."""
        place: str = self.__dict__["_place"]
        if location.kind != self.kind:
            return False
        if self.kind == "file":
            below = location.place.startswith(place.rstrip(os.sep) + os.sep)
            return location.place == place or below
        return location.place == place


_lock = threading.Lock()
_configured: set[Location] = set()


def remember_location(config: StoreConfig) -> None:
    """Record that this process itself writes to the location of ``config``.

    A [`StreamProducer`][proxyflow.stream.StreamProducer] calls it for each of
    its stores, so a consumer in the same process trusts them. Configs whose
    location cannot be read are ignored.
    """
    try:
        location = location_of(config)
    except Exception:  # an unusual connector: nothing to remember
        return
    with _lock:
        _configured.add(location)


def _entries(trusted: Iterable[str | TrustedLocation] | None) -> list[str | TrustedLocation]:
    if trusted is None:
        text = os.environ.get(TRUSTED_LOCATIONS_ENV, "")
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(trusted, (str, TrustedLocation)):
        return [trusted]
    return list(trusted)


class TrustPolicy:
    """Turns the store config of an event into the config a consumer may build, or refuses it.

    Args:
        trusted_locations: `TrustedLocation` entries or their string forms,
            or `TRUST_ALL`; ``None`` reads `TRUSTED_LOCATIONS_ENV`.
        signed: Whether every event reaching the policy was authenticated
            with the consumer's signing key (its locations are then trusted).

    Raises:
        ValueError: If an entry is malformed.
    """

    __slots__ = ("_entries", "_signed", "_trust_all")

    def __init__(
        self, trusted_locations: Iterable[str | TrustedLocation] | None, *, signed: bool
    ) -> None:
        entries = _entries(trusted_locations)
        self._trust_all = TRUST_ALL in entries
        self._entries = [
            e if isinstance(e, TrustedLocation) else TrustedLocation(e)
            for e in entries
            if e != TRUST_ALL
        ]
        self._signed = signed

    @property
    def entries(self) -> tuple[TrustedLocation, ...]:
        """The trusted locations (without `TRUST_ALL`)."""
        return tuple(self._entries)

    def admit(self, config: StoreConfig) -> Store | StoreConfig:
        """Return the store to use for an event's config, or the config to build one from.

        A registered store of the event's name at the event's location is
        returned as is. Otherwise the config returned keeps the event's name,
        kind, location, serializer and cache size, with client settings from
        the matching `TrustedLocation` (or none).

        Raises:
            UntrustedLocationError: If the location is not trusted.
            UnknownConnectorError: If the connector kind is not installed.
        """
        location = location_of(config)
        registered = get_store(config.name)
        if registered is not None and not registered.closed:
            own = registered.config()
            if own.connector == config.connector and location_of(own) == location:
                return registered
        client: Mapping[str, Any] = {}
        url: str | None = None
        entry = next((e for e in self._entries if e.matches(location)), None)
        if entry is not None:
            client = entry.client_options
            url = entry.location if entry.kind == "redis" else None
        elif not (self._trust_all or self._signed or location.kind == "local"):
            with _lock:
                known = location in _configured
            if not known:
                raise UntrustedLocationError(
                    f"an event names store {config.name!r} at {location.kind} location "
                    f"{location.place!r}, which this consumer does not trust; nothing was "
                    f"read there. If its producers are yours, list it in trusted_locations= "
                    f"or {TRUSTED_LOCATIONS_ENV}, register the store in this process, pass "
                    "it in store_overrides=, or sign events with a shared signing key"
                )
        keys = _location_keys(config.connector) or frozenset()
        options = {k: v for k, v in config.options.items() if k in keys}
        if location.kind == "redis":
            options["url"] = url or location.place
        options.update(client)
        return StoreConfig(
            config.name, config.connector, options, config.serializer, config.cache_size
        )
