"""proxyflow broker shim for Redis pub/sub and Redis list queues."""
