"""At load, keeps two processes busy for two seconds and prints how many CPUs they got (CPU time / wall time)."""

import multiprocessing
import resource
import time

SECONDS = 2.0


def _spin(until):
    while time.monotonic() < until:
        pass


def handle(data, context):
    if data is None:
        started = time.monotonic()
        workers = [multiprocessing.Process(target=_spin, args=(started + SECONDS,)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"cpus used: {(used.ru_utime + used.ru_stime) / (time.monotonic() - started):.2f}", flush=True)
    return None
