"""Static analysis of Next.js apps for LLM-related leak risks (`leakline scan`)."""
