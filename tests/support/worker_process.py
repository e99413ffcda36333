"""A real RQ worker (the Procfile's SimpleWorker) in its own process, at a moved clock:
fault tests kill it mid-job.

Usage: python -m tests.support.worker_process ISO-DATETIME [--burst]
"""

from __future__ import annotations

import sys
from datetime import datetime

import time_machine
from rq import SimpleWorker

from callcenter.config import Settings
from workers.queues import queue, queue_names, redis_connection


def main() -> None:
    when = datetime.fromisoformat(sys.argv[1])
    with time_machine.travel(when, tick=True):
        settings = Settings.from_env()
        names = [n.removeprefix(settings.queue_prefix) for n in queue_names(settings)]
        worker = SimpleWorker([queue(settings, n) for n in names],
                        connection=redis_connection(settings))
        worker.work(burst="--burst" in sys.argv, with_scheduler=True)


if __name__ == "__main__":
    main()
