"""proxyflow's plug-in API: the seams, the error tree and helpers every package may share.

``proxyflow-api`` has no dependencies. Connectors and broker shims (ours and
third parties') import it, and nothing else of proxyflow, for:

* the protocols they satisfy: [`Publisher`][proxyflow.api.protocols.Publisher],
  [`Subscriber`][proxyflow.api.protocols.Subscriber],
  [`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber] with its
  [`Delivery`][proxyflow.api.protocols.Delivery], the optional
  [`DrainableSubscriber`][proxyflow.api.protocols.DrainableSubscriber] with its
  [`GroupBacklog`][proxyflow.api.broker_types.GroupBacklog], their asyncio forms
  ([`proxyflow.api.async_protocols`][proxyflow.api.async_protocols]), and
  [`Connector`][proxyflow.api.connector_protocols.Connector];
* the root of the error tree, [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError],
  and the backend failures every plug-in reports the same way
  ([`BackendFullError`][proxyflow.api.exceptions.BackendFullError], ...);
* small helpers with one home: [`redact_url`][proxyflow.api.urls.redact_url],
  flat byte views ([`proxyflow.api.buffers`][proxyflow.api.buffers]),
  the states of a delivery ([`DeliveryOutcome`][proxyflow.api.outcomes.DeliveryOutcome]),
  context-manager bases ([`Closeable`][proxyflow.api.closing.Closeable],
  [`AsyncCloseable`][proxyflow.api.closing.AsyncCloseable]) and a
  polling subscriber base ([`PollingSubscriber`][proxyflow.api.polling.PollingSubscriber]).

Example:
    ```python
    from proxyflow.api import BackendUnavailableError, redact_url

    try:
        raise BackendUnavailableError("cannot reach Redis", redact_url("redis://:pw@h:6379"))
    except ConnectionError as exc:
        assert exc.backend == "redis://:***@h:6379"
    ```
"""

from __future__ import annotations

from proxyflow.api.__about__ import __version__
from proxyflow.api.buffers import as_message, byte_view, flat_buffer, flat_buffers, nbytes
from proxyflow.api.closing import AsyncCloseable, AsyncOpenable, Closeable
from proxyflow.api.exceptions import (
    BackendAuthenticationError,
    BackendError,
    BackendFullError,
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    ObjectTooLargeError,
    ProxyflowError,
)
from proxyflow.api.outcomes import DeliveryOutcome
from proxyflow.api.polling import (
    CONFIGURED,
    Configured,
    PollingSubscriber,
    check_timeout,
    normalise_topics,
    wait_time,
)
from proxyflow.api.protocols import (
    AckingSubscriber,
    AsyncAckingSubscriber,
    AsyncDelivery,
    AsyncDrainableSubscriber,
    AsyncPublisher,
    AsyncReadableConnector,
    AsyncSubscriber,
    AsyncWorkSharingPublisher,
    AsyncWorkSharingSubscriber,
    BytesLike,
    Connector,
    CountingConnector,
    Delivery,
    DrainableSubscriber,
    GroupBacklog,
    Key,
    Message,
    Publisher,
    Roster,
    Subscriber,
    VectoredConnector,
    WorkSharingPublisher,
    WorkSharingSubscriber,
)
from proxyflow.api.urls import SECRET_QUERY_OPTIONS, TOKEN_USERINFO_SCHEMES, redact_url

__all__ = [
    "CONFIGURED",
    "SECRET_QUERY_OPTIONS",
    "TOKEN_USERINFO_SCHEMES",
    "AckingSubscriber",
    "AsyncAckingSubscriber",
    "AsyncCloseable",
    "AsyncDelivery",
    "AsyncDrainableSubscriber",
    "AsyncOpenable",
    "AsyncPublisher",
    "AsyncReadableConnector",
    "AsyncSubscriber",
    "AsyncWorkSharingPublisher",
    "AsyncWorkSharingSubscriber",
    "BackendAuthenticationError",
    "BackendError",
    "BackendFullError",
    "BackendProtocolError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "BytesLike",
    "Closeable",
    "Configured",
    "Connector",
    "CountingConnector",
    "Delivery",
    "DeliveryOutcome",
    "DrainableSubscriber",
    "GroupBacklog",
    "Key",
    "Message",
    "ObjectTooLargeError",
    "PollingSubscriber",
    "ProxyflowError",
    "Publisher",
    "Roster",
    "Subscriber",
    "VectoredConnector",
    "WorkSharingPublisher",
    "WorkSharingSubscriber",
    "__version__",
    "as_message",
    "byte_view",
    "check_timeout",
    "flat_buffer",
    "flat_buffers",
    "nbytes",
    "normalise_topics",
    "redact_url",
    "wait_time",
]
