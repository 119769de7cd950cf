"""Client API keys kept in leakline's database, beside the digests and variables of leakline.toml.

A `[[clients]]` entry with `database_keys = true` accepts, besides its configured keys, the keys that
`leakline gateway-keys add <client>` stores: a random key is printed once, its SHA-256 is stored (never the
key), and `leakline gateway-keys revoke <label>` ends it. Every gateway worker reads the table at start-up
and again every `[gateway] database_keys_refresh_seconds`, so that a key added or revoked takes effect on
every replica within that time, without a restart. Keys for a client that did not opt in are ignored: a
hand with write access to the database alone cannot give itself a key to a client whose keys live in the
configuration only.
"""
