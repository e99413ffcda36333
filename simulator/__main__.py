"""``python -m simulator serve|call``: run a local Twilio, or call it from the terminal.

A separate program from the service: everything it needs comes from its command line (the
dev run passes the service's account SID and auth token), never from the environment.
"""

from __future__ import annotations

import argparse
import sys

from simulator.phone import run_phone
from simulator.server import Simulator

DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = "dev-auth-token"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m simulator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the simulated Twilio")
    serve.add_argument("--port", type=int, default=8081)
    serve.add_argument("--service-url", default="http://127.0.0.1:5000")
    serve.add_argument("--account-sid", default=DEV_ACCOUNT_SID,
                       help="the account SID the service uses (default: the dev one)")
    serve.add_argument("--auth-token", default=DEV_AUTH_TOKEN,
                       help="signs webhooks and checks REST auth (default: the dev one)")
    serve.add_argument("--hotline", default="+622150001234")
    serve.add_argument("--voice-url", default="/twilio/voice/incoming")
    serve.add_argument("--status-url", default="/twilio/voice/status")
    serve.add_argument("--messaging-url", default="/twilio/messaging/incoming")
    serve.add_argument("--auto-agent", action="append", default=[], metavar="NUMBER",
                       help="a simulated agent answers calls to NUMBER and presses "
                            "--auto-agent-keys at the prompt (repeatable)")
    serve.add_argument("--auto-agent-keys", default="1")
    serve.add_argument("--auto-agent-hangup-after", type=float, default=5.0,
                       help="seconds a connected outbound leg stays before hanging up")
    call = sub.add_parser("call", help="call the hotline from this terminal")
    call.add_argument("--from", dest="from_number", default="+6281234567890")
    call.add_argument("--sim-url", default="http://127.0.0.1:8081")
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        sim = Simulator(
            account_sid=args.account_sid,
            auth_token=args.auth_token,
            service_url=args.service_url,
            voice_url=args.voice_url,
            status_url=args.status_url,
            messaging_url=args.messaging_url,
            hotline=args.hotline,
            port=args.port,
            auto_agent_hangup_after=args.auto_agent_hangup_after,
            auto_agents=args.auto_agent,
            auto_agent_keys=args.auto_agent_keys,
        ).start()
        print(f"Simulated Twilio at {sim.api_url} -> service {sim.service_url}", flush=True)
        sim.serve_forever()
        return 0
    status = run_phone(args.sim_url, args.from_number)
    return 0 if status in ("completed", "canceled") else 1


if __name__ == "__main__":
    sys.exit(main())
