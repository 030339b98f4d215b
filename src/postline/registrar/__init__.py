"""Status registration: status events become ledger changes and their consequences.

``service`` consumes the ``status_events`` queue in batches; ``batch`` applies
one batch in one transaction; ``isolate`` sets aside the events PostgreSQL
refuses; ``failures`` tells refused values from an unavailable database;
``rules`` says how one event moves one row.
"""

from postline.registrar.batch import BatchResult, apply_events
from postline.registrar.isolate import Refusal, apply_isolating
from postline.registrar.service import serve_registrar

__all__ = [
    "BatchResult",
    "Refusal",
    "apply_events",
    "apply_isolating",
    "serve_registrar",
]
