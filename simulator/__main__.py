"""``python -m simulator serve|call``: run a local Twilio, or call it from the terminal."""

from __future__ import annotations

import argparse
import os
import sys

from simulator.phone import run_phone
from simulator.server import Simulator


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m simulator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the simulated Twilio")
    serve.add_argument("--port", type=int, default=8081)
    serve.add_argument("--service-url", default="http://127.0.0.1:5000")
    serve.add_argument(
        "--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    )
    serve.add_argument(
        "--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN", "dev-auth-token")
    )
    serve.add_argument("--hotline", default="+622150001234")
    serve.add_argument("--voice-url", default="/twilio/voice/incoming")
    serve.add_argument("--status-url", default="/twilio/voice/status")
    serve.add_argument("--messaging-url", default="/twilio/messaging/incoming")
    serve.add_argument("--auto-agent-hangup-after", type=float, default=5.0)
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
        ).start()
        print(f"Simulated Twilio at {sim.api_url} -> service {sim.service_url}", flush=True)
        sim.serve_forever()
        return 0
    status = run_phone(args.sim_url, args.from_number)
    return 0 if status in ("completed", "canceled") else 1


if __name__ == "__main__":
    sys.exit(main())
