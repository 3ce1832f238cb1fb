"""What each step does (its ``action``, named in ``steps.declarations``): one module per step,
plus the handler in a child process (``handler_process``), shared by the local test and predict."""
