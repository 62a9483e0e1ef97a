"""Showing backend addresses without their secrets."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["SECRET_QUERY_OPTIONS", "TOKEN_USERINFO_SCHEMES", "redact_url"]

SECRET_QUERY_OPTIONS = frozenset({"password", "pass", "pwd", "token", "secret", "auth"})
"""Query options whose values `redact_url` hides (compared case-insensitively)."""

TOKEN_USERINFO_SCHEMES = frozenset({"nats", "tls", "ws", "wss"})
"""Schemes whose user info without a ``:`` is a token, hidden whole (``nats://s3cret@host``)."""

_HIDDEN = "***"


def redact_url(url: str) -> str:
    """Return ``url`` with every password replaced by ``***``, fit for messages and logs.

    Hides the password of the user info (``user:secret@``) and the value of
    query options named in
    [`SECRET_QUERY_OPTIONS`][proxyflow.api.urls.SECRET_QUERY_OPTIONS]. The
    user name, host, port, path (a database number, a socket path) and other
    options are kept exactly as written, including the ``//`` of URLs with an
    empty host such as ``unix:///tmp/redis.sock``. For the schemes of
    [`TOKEN_USERINFO_SCHEMES`][proxyflow.api.urls.TOKEN_USERINFO_SCHEMES]
    (NATS), user info without a ``:`` is a token and is hidden whole. A
    comma-separated list of servers (``nats://a:4222,nats://b:4222``) is
    redacted server by server. A string without a scheme (``127.0.0.1:6379``)
    is returned unchanged unless it holds user info.

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
        assert redact_url("nats://s3cret@h:4222,nats://h2:4222") == "nats://***@h:4222,nats://h2:4222"
        ```
    """
    if "," in url and url.count("://") > 1:
        return ",".join(redact_url(server.strip()) for server in url.split(","))
    head, sep, _ = url.partition("://")
    if not sep:
        # No scheme: "host:port", or "user:secret@host:port".
        return _redact_netloc(url) if "@" in url else url
    parts = urlsplit(url)
    netloc = _redact_netloc(parts.netloc, token=head.lower() in TOKEN_USERINFO_SCHEMES)
    rebuilt = f"{head}://{netloc}{parts.path}"
    if parts.query:
        rebuilt += "?" + _redact_query(parts.query)
    if parts.fragment:
        rebuilt += "#" + parts.fragment
    return rebuilt


def _redact_netloc(netloc: str, *, token: bool = False) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{user}:{_HIDDEN}@{hostport}"
    return f"{_HIDDEN}@{hostport}" if token else f"{userinfo}@{hostport}"


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in SECRET_QUERY_OPTIONS for name, _ in pairs):
        return query
    shown = [
        (name, _HIDDEN if name.lower() in SECRET_QUERY_OPTIONS else quote(value, safe=""))
        for name, value in pairs
    ]
    return "&".join(f"{quote(name, safe='')}={value}" for name, value in shown)
