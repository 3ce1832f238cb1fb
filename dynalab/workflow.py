"""Dynalab's steps as invoke tasks, for a project's own tasks.py (invoke looks for ``namespace``)::

    from invoke import task

    from dynalab.workflow import namespace  # invoke looks for `namespace`: Dynalab's steps


    @task
    def hello(c):  # plus tasks of your own
        print("hello from the project's own task")


    namespace.add_task(hello)  # then: invoke local-test -n my-model hello

The tasks are those of ``dynalab-cli`` (``dynalab.cli.commands``), made from the
step declarations; an error ends a task with the same message and exit code.
"""

from dynalab.cli.main import invoke_collection

namespace = invoke_collection()
