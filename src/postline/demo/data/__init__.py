"""The demo's example files: contacts, the newsletter template, the campaign
and the sender configuration. ``make_contacts`` writes ``contacts.csv``."""
