"""Detectors shared by the scanner and the gateway: secrets, publishable-by-design keys, LLM endpoints.

Everything here is a pure function over text (no files, no network), so the same matchers find a
leaked key in a `.env` file, a minified `.next/static` chunk, or a model's streamed output.
"""
