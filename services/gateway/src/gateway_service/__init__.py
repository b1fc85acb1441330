"""gateway: the public REST API (/api/v1); verifies tokens itself, asks auth by RPC."""
