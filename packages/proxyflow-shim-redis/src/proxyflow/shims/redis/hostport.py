"""ProxyStore's ``(hostname, port)`` call form of the Redis classes, turned into a URL.

ProxyStore's Redis shims take ``hostname, port`` (and, for subscribers, a
``topic``) and pass other keywords to ``redis.Redis``. proxyflow's take a URL.
The classes accept both forms: ``RedisPublisher("localhost", 6379)`` means
``RedisPublisher("redis://localhost:6379/0")``. Of the ``redis.Redis`` keywords,
``db``, ``username`` and ``password`` (parts of the URL) are understood; any
other raises a ``TypeError`` that names the URL form, rather than being
silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

__all__ = ["URL_OPTIONS", "Target", "publisher_url", "subscriber_target"]

URL_OPTIONS = ("db", "username", "password")
"""The ``redis.Redis`` keywords of ProxyStore's form that become parts of the URL."""


class Target(NamedTuple):
    """What a subscriber reads: a server URL and its topics."""

    url: str
    """The server URL (with its password, if any: redact it before showing it)."""
    topics: str | Sequence[str]
    """One topic or a sequence of topics, as given."""


def _is_port(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _url(label: str, hostname: object, port: object, options: dict[str, Any]) -> str:
    """Build ``redis://[user:password@]hostname:port/db`` from ProxyStore's arguments."""
    if not isinstance(hostname, str) or not hostname or "://" in hostname:
        raise TypeError(
            f"{label}(hostname, port) takes a host name such as 'localhost', "
            f"not {hostname!r}; or give one URL: {label}('redis://localhost:6379/0')"
        )
    if not _is_port(port):
        raise TypeError(f"{label}(hostname, port): port must be an int, not {port!r}")
    unknown = sorted(set(options) - set(URL_OPTIONS))
    if unknown:
        raise TypeError(
            f"{label}(hostname, port) understands the redis.Redis options "
            f"{list(URL_OPTIONS)} only, not {unknown}: give a URL instead, e.g. "
            f"{label}('rediss://user:password@{hostname}:{port}/0') for TLS "
            "(see 'Coming from ProxyStore' in the docs)"
        )
    db = options.get("db", 0)
    if not _is_port(db) or db < 0:
        raise TypeError(f"{label}(hostname, port, db=...): db must be an int >= 0, not {db!r}")
    username = options.get("username")
    password = options.get("password")
    userinfo = ""
    if username is not None or password is not None:
        userinfo = quote(str(username or ""), safe="")
        if password is not None:
            userinfo += ":" + quote(str(password), safe="")
        userinfo += "@"
    host = f"[{hostname}]" if ":" in hostname and not hostname.startswith("[") else hostname
    return f"redis://{userinfo}{host}:{port}/{db}"


def publisher_url(
    label: str,
    url: str | None,
    port: int | None,
    hostname: str | None,
    options: dict[str, Any],
) -> str:
    """Return the URL a publisher connects to, from either call form.

    Args:
        label: The class name, for messages.
        url: The first positional argument: a URL, or ProxyStore's hostname.
        port: ProxyStore's port (positional or keyword), if given.
        hostname: ProxyStore's ``hostname=`` keyword, if given.
        options: The other keywords (ProxyStore's ``redis.Redis`` options).

    Raises:
        TypeError: if the arguments fit neither form.
    """
    if port is None and hostname is None:
        if options:
            raise TypeError(f"{label}() got unexpected keyword arguments {sorted(options)}")
        if url is None:
            raise TypeError(f"{label}() needs a URL: {label}('redis://localhost:6379/0')")
        return url
    if url is not None and hostname is not None:
        raise TypeError(f"{label}() got both a URL (or host) and hostname={hostname!r}")
    return _url(label, hostname if hostname is not None else url, port, options)


def subscriber_target(  # noqa: PLR0917 - the arguments of both call forms, as given
    label: str,
    url: str | None,
    topics: str | Sequence[str] | int | None,
    topic: str | Sequence[str] | None,
    hostname: str | None,
    port: int | None,
    options: dict[str, Any],
) -> Target:
    """Return the URL and topics a subscriber reads, from either call form.

    proxyflow's form is ``(url, topics)``; ProxyStore's is
    ``(hostname, port, topic)``, recognised by an ``int`` second argument or
    by the ``hostname=``/``port=`` keywords.

    Raises:
        TypeError: if the arguments fit neither form.
    """
    if isinstance(topics, bool):
        raise TypeError(f"{label}(): {topics!r} is neither topics nor a port")
    given: str | Sequence[str] | None
    if isinstance(topics, int):  # ProxyStore's (hostname, port, topic)
        if port is not None:
            raise TypeError(f"{label}() got the port twice: {topics!r} and port={port!r}")
        port, given = topics, None
    else:
        given = topics
    if port is None and hostname is None:
        if topic is not None:
            raise TypeError(
                f"{label}() takes topic= only with ProxyStore's (hostname, port, topic) "
                f"form; with a URL it is {label}(url, topics)"
            )
        if options:
            raise TypeError(f"{label}() got unexpected keyword arguments {sorted(options)}")
        if url is None or given is None:
            raise TypeError(
                f"{label}() needs a URL and topics: {label}('redis://host:6379', ['t'])"
            )
        return Target(url, given)
    if topic is None or given is not None:
        raise TypeError(
            f"{label}(hostname, port, topic) needs one topic argument (third, or topic=); "
            f"with a URL it is {label}('redis://host:6379', ['t'])"
        )
    return Target(publisher_url(label, url, port, hostname, options), topic)
