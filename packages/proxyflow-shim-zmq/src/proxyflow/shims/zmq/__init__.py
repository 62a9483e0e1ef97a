"""proxyflow broker shim for ZeroMQ PUB/SUB."""
