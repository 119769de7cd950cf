"""Incidents: signals in, deduped and attached to incidents; lifecycle, facts versions, obligations, timeline.

`service` holds the keyword-only functions (each takes a SQLAlchemy session and commits nothing itself:
the caller's transaction covers the state change, its timeline entries and the outbox rows it queues);
`models` the tables and the Read schemas; `views` the HTTP router; `cli` the `leakline incident`,
`leakline signal` commands. Kept import-light: leakline.config imports `incidents.settings`.
"""
