"""Durable jobs: the work done on a model after its upload, with its state in the database.

    protocol    what a job function and the server say to each other (ticket, source, report)
    queue       the jobs table: queue, claim under a lease, heartbeat, finish, requeue
    local       the source and report of the embedded worker (the database and the data dir)
    reaper      jobs whose worker was lost are taken up again; start-up recovery
    executor    who runs the jobs: the ``Executor`` protocol and ``EmbeddedExecutor``
    work        the job function itself, ``run_job(ticket, source, report, backend)``
"""
