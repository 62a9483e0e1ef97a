"""Storage connectors for proxyflow stores: local, file, Redis."""
