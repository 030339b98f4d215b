"""The one place that spells queue and exchange names."""

EVENTS_EXCHANGE = "postline.events"
STATUS_EVENTS_QUEUE = "status_events"

DEAD_LETTER_EXCHANGE = "postline.dead"
DEAD_LETTER_QUEUE = "dead_letters"

SMS_QUEUE = "sms_sender"


def mta_queue(sender_id: int) -> str:
    """The standard queue of a built-in MTA sender: spooled, sent by strategy."""
    return f"akmta_{sender_id}"


def mta_priority_queue(sender_id: int) -> str:
    """The priority queue of a built-in MTA sender: one attempt at once."""
    return f"akmta_prior_{sender_id}"


def status_routing_key(channel: str, status: str) -> str:
    """Routing key of a status event on the events exchange."""
    return f"status.{channel}.{status}"
