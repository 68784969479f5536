"""Development tools: the sandbox clearinghouse (a real SFTP server with one mailbox per trading partner,
a payer simulator, a real-time CORE endpoint), the synthetic practice (``seed``, ``synthetic``), the demo and
the local CeleryExecutor cluster (``scaleout``). It sits above the services: they never import it (only the
CLI's demo and sandbox commands do; tests/quality/test_layers.py)."""
