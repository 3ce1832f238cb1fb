"""What tests, benchmarks and demos use to run the real thing: ``server_process``, ``remote_workers``
(Redis and ``dynalab-server worker`` processes).

Standard library only, so that a client's environment can import it without
the server's extra.
"""
