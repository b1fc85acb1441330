"""janitor: records every stored object's expiry and deletes what has expired."""
