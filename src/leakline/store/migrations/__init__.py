"""Alembic migrations of leakline's database (a package so that wheels ship them)."""
