"""Model weights at rest and in transit: a segmented AES-256-GCM container with a signed manifest,
random-access decryption for model loaders, and TLS 1.3-only transfer between sites with residency checks.

The format is documented in docs/weights-format.md; use with model servers in docs/weights.md. Modules:
`format` (bytes-level rules), `manifest` (signed trailer), `container` (streaming and random access),
`keys` (key files), `transfer` (serve/pull), `cli` (the `leakline weights` commands).
"""
