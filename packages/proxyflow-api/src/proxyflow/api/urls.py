"""Showing backend addresses without their secrets."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["SECRET_QUERY_OPTIONS", "redact_url"]

SECRET_QUERY_OPTIONS = frozenset({"password", "pass", "pwd", "token", "secret", "auth"})
"""Query options whose values `redact_url` hides (compared case-insensitively)."""

_HIDDEN = "***"


def redact_url(url: str) -> str:
    """Return ``url`` with every password replaced by ``***``, fit for messages and logs.

    Hides the password of the user info (``user:secret@``) and the value of
    query options named in
    [`SECRET_QUERY_OPTIONS`][proxyflow.api.urls.SECRET_QUERY_OPTIONS]. The
    user name, host, port, path (a database number, a socket path) and other
    options are kept exactly as written, including the ``//`` of URLs with an
    empty host such as ``unix:///tmp/redis.sock``. A string without a scheme
    (``127.0.0.1:6379``) is returned unchanged unless it holds user info.

    Args:
        url: Any URL or address.

    Returns:
        The URL with its secrets hidden.

    Example:
        ```python
        from proxyflow.api import redact_url

        assert redact_url("redis://alice:s3cret@db:6379/0") == "redis://alice:***@db:6379/0"
        assert redact_url("redis://db?password=s3cret&db=1") == "redis://db?password=***&db=1"
        assert redact_url("unix:///tmp/r.sock") == "unix:///tmp/r.sock"
        assert redact_url("127.0.0.1:6379") == "127.0.0.1:6379"
        ```
    """
    head, sep, _ = url.partition("://")
    if not sep:
        # No scheme: "host:port", or "user:secret@host:port".
        return _redact_netloc(url) if "@" in url else url
    parts = urlsplit(url)
    netloc = _redact_netloc(parts.netloc)
    rebuilt = f"{head}://{netloc}{parts.path}"
    if parts.query:
        rebuilt += "?" + _redact_query(parts.query)
    if parts.fragment:
        rebuilt += "#" + parts.fragment
    return rebuilt


def _redact_netloc(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _ = userinfo.partition(":")
    return f"{user}:{_HIDDEN}@{hostport}" if colon else f"{userinfo}@{hostport}"


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in SECRET_QUERY_OPTIONS for name, _ in pairs):
        return query
    shown = [
        (name, _HIDDEN if name.lower() in SECRET_QUERY_OPTIONS else quote(value, safe=""))
        for name, value in pairs
    ]
    return "&".join(f"{quote(name, safe='')}={value}" for name, value in shown)
