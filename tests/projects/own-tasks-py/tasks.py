from invoke import task

from dynalab.workflow import namespace  # invoke looks for `namespace`: Dynalab's steps


@task
def hello(c):  # plus tasks of your own
    print("hello from the project's own task")


namespace.add_task(hello)  # then: invoke local-test -n my-model hello
