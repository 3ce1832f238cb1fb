"""The client side of the evaluation server: login, upload, status and the server's task list.

- ``session``: the one HTTP session (User-Agent, no proxy to loopback).
- ``retry``: what is sent again and what never is (GETs, and an upload answered 502-504).
- ``auth``: where the API token comes from; the secrets file.
- ``api``: the server's address, its endpoints, and what its errors mean.
- ``login``: check a token and save it; ``logout``.
- ``upload``: stream an archive to the server; the receipt and the local copy.
- ``status``: what the server says of an uploaded model, followed until it is evaluated or failed.
- ``tasks_source``: the server's task list, cached, or the built-in tasks.

Plain functions with explicit arguments; the steps (``dynalab.steps``) call
them, and ``dynalab.cli`` turns their ``DynalabError`` exceptions into messages. Nothing is
imported here so that reading the task cache does not load the HTTP stack.
"""
