"""Contract test suites and test fixtures for proxyflow connectors and broker shims.

Third-party connectors and shims reuse these suites: subclass the contract class,
supply one fixture, and get the whole behavioural suite.
"""

from proxyflow.testing.acking_contract import AckingPubSub as AckingPubSub
from proxyflow.testing.acking_contract import (
    AckingSubscriberContract as AckingSubscriberContract,
)
from proxyflow.testing.async_contracts import (
    AsyncAckingSubscriberContract as AsyncAckingSubscriberContract,
)
from proxyflow.testing.async_contracts import (
    AsyncPublisherSubscriberContract as AsyncPublisherSubscriberContract,
)
from proxyflow.testing.async_contracts import AsyncPubSub as AsyncPubSub
from proxyflow.testing.async_contracts import (
    AsyncWorkSharingContract as AsyncWorkSharingContract,
)
from proxyflow.testing.connector_contract import ConnectorContract as ConnectorContract
from proxyflow.testing.pubsub_contract import (
    PublisherSubscriberContract as PublisherSubscriberContract,
)
from proxyflow.testing.pubsub_contract import PubSub as PubSub
from proxyflow.testing.worksharing_contract import WorkSharingContract as WorkSharingContract
