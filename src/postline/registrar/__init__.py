"""Status registration: status events become ledger changes and their consequences.

``service`` consumes the ``status_events`` queue in batches; ``batch`` applies
one batch in one transaction; ``rules`` says how one event moves one row.
"""

from postline.registrar.batch import BatchResult, apply_events
from postline.registrar.service import serve_registrar

__all__ = ["BatchResult", "apply_events", "serve_registrar"]
