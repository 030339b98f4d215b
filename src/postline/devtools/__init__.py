"""Tools for development and tests: the SMTP sink."""
