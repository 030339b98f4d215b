"""PostgreSQL: tables, migrations and the engine."""
