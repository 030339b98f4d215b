"""``postline demo``: a campaign end to end on the local services."""


def run() -> None:
    """Load the example, run it through the MTA and print the report."""
    raise NotImplementedError
