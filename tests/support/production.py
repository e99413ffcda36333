"""The production-like settings every test runs the service with.

Outside debug the web app, the worker and the scheduler refuse the dev secrets and a missing
``PUBLIC_BASE_URL`` (``callcenter.config.production_problems``). Tests run that production
path, not a debug run: the suite's environment (``tests/conftest.py``'s ``env``) carries a
Twilio auth token and a secret key that are not the dev values, the simulators sign their
webhooks with that token, and :func:`production_environment` is the one place that builds a
started process's environment (gunicorn, ``callcenter worker``, ``callcenter scheduler``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from callcenter.config import DEV_BASE_URL, PROJECT_ROOT

# Not the dev values (callcenter.config.DEV_AUTH_TOKEN/DEV_SECRET_KEY): a production start
# accepts them. The simulators of the suite sign with TEST_AUTH_TOKEN.
TEST_AUTH_TOKEN = "test-twilio-auth-token-of-the-suite"
TEST_SECRET_KEY = "test-secret-key-of-the-suite"


def production_environment(public_base_url: str | None = None,
                           base: Mapping[str, str] | None = None,
                           **values: str) -> dict[str, str]:
    """A started process's environment: ``base`` (this process's environment by default,
    the test's settings included) as a production deployment would have it (no
    ``CALLCENTER_DEBUG``, the suite's non-dev Twilio token, a secret key, ``PUBLIC_BASE_URL``:
    ``public_base_url``, else the one set, else the address in-process settings fall back
    to), with ``values`` on top."""
    env = dict(os.environ if base is None else base)
    env.pop("CALLCENTER_DEBUG", None)
    env["TWILIO_AUTH_TOKEN"] = TEST_AUTH_TOKEN
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = TEST_SECRET_KEY
    env["PUBLIC_BASE_URL"] = public_base_url or env.get("PUBLIC_BASE_URL") or DEV_BASE_URL
    env.setdefault("PYTHONUNBUFFERED", "1")
    # This checkout's code, not whichever one the virtualenv's editable install names (a git
    # worktree sharing another checkout's .venv would otherwise start that checkout's code).
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(values)
    return env
