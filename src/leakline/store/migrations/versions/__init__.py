"""One module per schema revision, applied in order by `leakline.store.engine.migrate`."""
