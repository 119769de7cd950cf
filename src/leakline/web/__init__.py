"""The HTTP side of leakline: one FastAPI app (`leakline serve`) composed from the domains' routers."""
