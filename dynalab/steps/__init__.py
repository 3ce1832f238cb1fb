"""The workflow's steps: declared once (``declarations``), run by one small runner (``runner``).

Each step can be called from Python too, as a plain function with explicit
arguments: it runs what the step needs first (each skipped when cached), then
the step, and returns its ``Result``; a failure raises its ``DynalabError``::

    from dynalab import steps
    from dynalab.project import Project

    steps.local_test(Project(), "my-model")
"""


def run_step(project, step, out=print, **flags):
    """Run step ``step`` (its name, e.g. "local_test") with ``flags``; its Result, or its error raised."""
    from dynalab.steps.declarations import BY_NAME, STEPS
    from dynalab.steps.runner import Runner

    [result] = Runner(project, STEPS, out=out).run([(BY_NAME[step], flags)])
    return result


def local_test(project, name=None, force=False, out=print):
    """Run the local test unless it passed with the same inputs."""
    return run_step(project, "local_test", out, name=name, force=force)


def package(project, name=None, force=False, out=print):
    """Build (or reuse) the archive that upload will send; ``result.value`` is its ``ArchiveInfo``."""
    return run_step(project, "package", out, name=name, force=force)


def integrated_test(project, name=None, backend=None, force=False, out=print):
    """Run the local test and package (each skipped when cached), then the integrated test unless cached."""
    return run_step(project, "integrated_test", out, name=name, backend=backend, force=force)


def upload(project, name=None, api_url=None, backend=None, force=False, progress=True, allow_unisolated=False,
           out=print):
    """Upload the package once it passed the integrated test (run first if needed)."""
    return run_step(project, "upload", out, name=name, api_url=api_url, backend=backend, force=force,
                    no_progress=not progress, allow_unisolated=allow_unisolated)


def predict(project, name=None, input=None, input_file=None, integrated=False, backend=None, out=print):
    """Run the handler on your own example(s) and check the responses."""
    return run_step(project, "predict", out, name=name, input=input, input_file=input_file, integrated=integrated,
                    backend=backend)
