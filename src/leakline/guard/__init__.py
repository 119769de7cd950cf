"""The LLM gateway: an OpenAI-compatible proxy in front of the sovereign model.

Every byte the model sends back to a browser passes through here. `leakline.guard.sanitize` holds the
output sanitizer (detectors, policy, the streaming hold-back buffer and the SSE helpers); the serving side
(residency, authentication, upstreams, header hygiene, volume anomalies, audit) builds on it.
"""
