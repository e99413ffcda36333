"""The worker of ``callcenter worker`` in its own process, at a moved clock: fault tests
kill it mid-job.

Usage: python -m tests.support.worker_process ISO-DATETIME [--burst]
"""

from __future__ import annotations

import sys
from datetime import datetime

import time_machine

from callcenter.config import Settings
from workers.worker import run_worker


def main() -> None:
    when = datetime.fromisoformat(sys.argv[1])
    settings = Settings.from_env()
    settings.check_for_production()  # as `callcenter worker` starts
    with time_machine.travel(when, tick=True):
        run_worker(settings, burst="--burst" in sys.argv)


if __name__ == "__main__":
    main()
