"""A self-hosted evaluation server speaking the Dynabench API that ``dynalab-cli`` uses.

Installed with the ``server`` extra (``pip install "dynalab[server]"``), run with
``dynalab-server run --data-dir DIR``. One idea per module:

    cli              the ``dynalab-server`` command line: ``run``, and the admin commands
    admin            the administrator's commands: accounts, API tokens, upload quotas, datasets
    settings         what one server is configured with (options, DYNALAB_SERVER_* variables),
                     and where it keeps its files
    serve            running the app with uvicorn: the data dir lock, the socket, the ready line
    http_timeouts    uvicorn's HTTP protocol with header and body timeouts
    app              the web application: wiring the parts below together
    routes/          HTTP: api (health, tasks, tokens), models (uploads), pages (the token page),
                     dependencies (what routes ask for), pages_html (that page's HTML)
    intake/          receiving an upload: form, tar_stream, archive_check, storage, upload
    db/              models (the tables) and database (opening it)
    datasets/        evaluation datasets: examples (a line's checks), store (the files, read back
                     for jobs), records (the rows, and queueing a dataset's evaluations)
    evaluation/      metrics (accuracy, macro_f1, exact_match, squad_f1, vqa_accuracy, bleu) and
                     scoring (an evaluation's score from the task's metrics)
    auth             API tokens, bearer tokens, passwords
    quota            how many uploads a user may make
    task_catalog     which tasks the server accepts, with their quotas
    web_session      the web sign-in cookie and CSRF tokens
    sign_in_limits   failed sign-ins, to stop password guessing

``dynalab.testing.server_process`` runs a server in a child process (tests, demos).
"""
