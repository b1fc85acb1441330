"""Plain-Python rules of jobs as the public API shows them."""
