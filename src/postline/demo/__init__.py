"""The demo: a campaign end to end on the local services."""
