"""A self-hosted evaluation server speaking the Dynabench API that ``dynalab-cli`` uses.

Installed with the ``server`` extra (``pip install "dynalab[server]"``), run with
``dynalab-server run --data-dir DIR``. Modules, one idea each: ``settings``
(configuration, data dir layout), ``db`` (records), ``auth`` (tokens,
passwords), ``task_catalog`` and ``quota`` (which tasks, how many uploads),
``upload_form``, ``tar_stream``, ``archive_check``, ``storage`` and ``uploads``
(receiving, checking and keeping an upload), ``web_session`` (sign-in cookie,
CSRF tokens) and ``sign_in_limits`` (password guessing), ``routes_*``,
``dependencies`` and ``pages`` (HTTP), ``app`` (wiring), ``serve`` and
``protocol`` (uvicorn, with timeouts), ``cli`` (commands), ``process``
(running a server in a child process, for tests and demos).
"""
