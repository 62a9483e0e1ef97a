"""proxyflow: stream objects by reference. Meta package with the `proxyflow` command."""
