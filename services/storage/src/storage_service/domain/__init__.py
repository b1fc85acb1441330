"""Plain-Python rules for what a corpus pair must be."""
