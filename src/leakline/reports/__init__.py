"""Output formats: one module per format (text, json, sarif), each with `render(result, *, color) -> str`."""
