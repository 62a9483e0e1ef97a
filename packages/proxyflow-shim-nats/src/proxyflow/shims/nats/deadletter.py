"""Dead letters: messages a subscriber gave up on, kept on a topic of their own.

A subscriber with ``dead_letter_topic="dead"`` moves a message there when it
is rejected, or when it was handed out ``max_deliver`` times and is given back
once more (by ``nack`` or by an expired ``ack_wait``). The copy is published
and acknowledged by the server *before* the original is terminated, so a
crash in between leaves the original to be delivered again (its dead-letter
copy carries a message id, so the copy is stored once). Dead letters are
ordinary messages of the stream: read them with a ``JetStreamSubscriber`` on
the dead-letter topic and look at
[`headers`][proxyflow.shims.nats.delivery.AsyncJetStreamDelivery.headers]:

| header | value |
|---|---|
| ``Proxyflow-Dead-Letter-Reason`` | ``rejected`` or ``max-deliveries`` |
| ``Proxyflow-Topic`` | the original topic, as a subject token (``%XX`` escapes) |
| ``Proxyflow-Durable`` | the durable name of the subscriber that gave up |
| ``Proxyflow-Stream-Sequence`` | the original message's stream sequence |
| ``Proxyflow-Delivery-Count`` | how many times it was delivered |

Without a dead-letter topic, a rejected message is terminated (``+TERM``) and
a message delivered ``max_deliver`` times is dropped by the server, which
publishes a ``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>``
advisory; the message itself stays in the stream until its limits remove it.
"""

from __future__ import annotations

from nats.aio.msg import Msg
from proxyflow.shims.nats.publishing import EXPECTED_STREAM_HEADER, MSG_ID_HEADER
from proxyflow.shims.nats.subjects import topic_token

__all__ = [
    "COUNT_HEADER",
    "DURABLE_HEADER",
    "REASON_HEADER",
    "REASON_MAX_DELIVERIES",
    "REASON_REJECTED",
    "SEQUENCE_HEADER",
    "TOPIC_HEADER",
    "dead_letter_headers",
]

REASON_HEADER = "Proxyflow-Dead-Letter-Reason"
TOPIC_HEADER = "Proxyflow-Topic"
DURABLE_HEADER = "Proxyflow-Durable"
SEQUENCE_HEADER = "Proxyflow-Stream-Sequence"
COUNT_HEADER = "Proxyflow-Delivery-Count"
REASON_REJECTED = "rejected"
REASON_MAX_DELIVERIES = "max-deliveries"


def dead_letter_headers(msg: Msg, topic: str, durable: str, reason: str) -> dict[str, str]:
    """Return the headers of the dead-letter copy of ``msg``."""
    metadata = msg.metadata
    return {
        MSG_ID_HEADER: f"dead-{metadata.consumer}-{metadata.sequence.stream}",
        EXPECTED_STREAM_HEADER: metadata.stream,
        REASON_HEADER: reason,
        TOPIC_HEADER: topic_token(topic),
        DURABLE_HEADER: durable,
        SEQUENCE_HEADER: str(metadata.sequence.stream),
        COUNT_HEADER: str(metadata.num_delivered),
    }
