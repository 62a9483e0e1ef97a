"""proxyflow broker shim for queue.Queue and multiprocessing queues."""
