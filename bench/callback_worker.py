"""An RQ worker for ``callback_bench.py``: the Procfile's ``rq worker`` with two bench knobs.

    python bench/callback_worker.py [--with-scheduler] [--burst] [--preload] QUEUE...

Same as ``rq worker --with-scheduler --url "$REDIS_URL" urgent default`` (the default
``rq.Worker``: one forked work horse per job), plus:

- ``BENCH_TIME_OFFSET`` (seconds, env): when set, the whole process (and every horse and the
  scheduler process it forks) runs under ``time_machine.travel(now + offset, tick=True)``.
  The bench gives every process the same offset, so all clocks agree to the microsecond.
- ``--preload``: import ``workers.callbacks`` before working, so a forked horse inherits the
  imports instead of importing twilio/SQLAlchemy/the models again for every job.

Also holds :func:`noop`, the empty job of the floor.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time


def noop() -> None:
    """The floor's job: RQ's own cost, nothing of ours."""
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("queues", nargs="+")
    parser.add_argument("--with-scheduler", action="store_true")
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--preload", action="store_true")
    parser.add_argument("--worker-class", default="rq.Worker")
    args = parser.parse_args()

    offset = float(os.environ.get("BENCH_TIME_OFFSET") or 0)
    if offset:
        import time_machine

        time_machine.travel(time.time() + offset, tick=True).start()

    from redis import Redis
    from rq.utils import import_attribute

    if args.preload:
        import workers.callbacks  # noqa: F401

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conn = Redis.from_url(os.environ["REDIS_URL"])
    worker_class = import_attribute(args.worker_class)
    worker = worker_class(args.queues, connection=conn)
    print(f"ready {time.time():.6f}", flush=True)
    worker.work(with_scheduler=args.with_scheduler, burst=args.burst, logging_level="WARNING")
    return 0


if __name__ == "__main__":
    sys.exit(main())
