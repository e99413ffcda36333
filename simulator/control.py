"""The ``/_sim`` JSON control API: what the terminal phone uses to place, watch and answer
calls. Not Twilio's; nothing of the service calls it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from simulator.rest import exchange

control = Blueprint("sim_control", __name__, url_prefix="/_sim")


@control.post("/calls")
def place_call() -> Any:
    data = request.get_json(silent=True) or {}
    call = exchange().incoming_call(from_=data.get("from"), to=data.get("to"))
    return jsonify({"sid": call.sid}), 201


@control.get("/calls/<sid>")
def call_state(sid: str) -> Any:
    sim = exchange()
    call = sim.get_call(sid)
    if call is None:
        return jsonify({"error": "unknown call"}), 404
    after = int(request.args.get("after", 0))
    with sim.lock:
        events = call.events[after:]
        return jsonify({"sid": call.sid, "status": call.status, "direction": call.direction,
                        "events": events, "next": after + len(events),
                        "waiting": call.waiting, "ended": call.ended})


@control.post("/calls/<sid>/input")
def call_input(sid: str) -> Any:
    call = exchange().get_call(sid)
    if call is None:
        return jsonify({"error": "unknown call"}), 404
    data = request.get_json(silent=True) or {}
    try:
        if data.get("hangup"):
            call.hang_up()
        elif data.get("no_input"):
            call.no_input(timeout=2)
        else:
            call.press(str(data.get("digits", "")), timeout=2)
    except (TimeoutError, RuntimeError) as exc:
        return jsonify({"ok": False, "error": str(exc)}), 409
    return jsonify({"ok": True})


@control.get("/state")
def state() -> Any:
    sim = exchange()
    with sim.lock:
        return jsonify({
            "calls": [{"sid": c.sid, "to": c.to, "from": c.from_, "status": c.status,
                       "direction": c.direction} for c in sim.calls],
            "queues": {n: len(q.members) for n, q in sim.queues.items()},
            "messages": [{k: m[k] for k in ("sid", "to", "from", "body", "status")}
                         for m in sim.messages],
        })


@control.put("/answering/<path:number>")
def hold_number(number: str) -> Any:
    """A terminal phone answers calls to ``number`` itself: no simulated agent takes them."""
    exchange().answer_in_terminal(number, True)
    return jsonify({"ok": True})


@control.delete("/answering/<path:number>")
def release_number(number: str) -> Any:
    exchange().answer_in_terminal(number, False)
    return jsonify({"ok": True})
