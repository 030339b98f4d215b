"""The ``postline`` command: one module per command group."""
