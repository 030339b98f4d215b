"""``postline registrar``: applies status events to the ledger."""


def run() -> None:
    """Consume status events in batches and apply them."""
    raise NotImplementedError
