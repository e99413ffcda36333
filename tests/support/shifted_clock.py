"""Run a module as ``python -m`` would, with the clock moved by a fixed offset: several real
processes (gunicorn, ``callcenter worker``, ``callcenter scheduler``) then agree on one moved
time (a Wednesday morning in Jakarta: calling hours open, the digest due).

Usage: python -m tests.support.shifted_clock OFFSET_SECONDS MODULE [ARGS...]
"""

from __future__ import annotations

import runpy
import sys
from datetime import UTC, datetime, timedelta

import time_machine


def main() -> None:
    offset = timedelta(seconds=float(sys.argv[1]))
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    with time_machine.travel(datetime.now(UTC) + offset, tick=True):
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
