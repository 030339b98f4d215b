"""The built-in MTA: spool, scheduler, SMTP delivery and routing (docs/mta.md)."""
