"""``postline mta``: the built-in mail transfer agent."""


def run() -> None:
    """Consume the queues of every built-in sender and deliver over SMTP."""
    raise NotImplementedError
