"""A local Twilio for tests, ``callcenter dev`` and the terminal phone.

``Simulator`` serves Twilio's REST API paths and drives calls through the service's
TwiML over real, signed HTTP webhooks.
"""

from simulator.calls import APP_ERROR_TEXT, CallEnded, SimCall, SimQueue
from simulator.client import rest_client
from simulator.server import Simulator, WebhookError

__all__ = [
    "APP_ERROR_TEXT",
    "CallEnded",
    "SimCall",
    "SimQueue",
    "Simulator",
    "WebhookError",
    "rest_client",
]
