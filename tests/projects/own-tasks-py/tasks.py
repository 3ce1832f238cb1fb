# A researcher's own invoke tasks: Dynalab's steps, plus one of their own.
from invoke import task

from dynalab.workflow import namespace


@task
def hello(c):
    print("hello from the project's own task")


namespace.add_task(hello)
