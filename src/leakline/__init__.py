"""leakline: keep a Next.js storefront that talks to a self-hosted LLM from leaking, and respond when it does."""

__version__ = "0.1.0"
