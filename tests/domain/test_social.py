"""Social channel rules that need no HTTP."""

from __future__ import annotations


def test_message_status_never_moves_backwards():
    from callcenter.social import status_moves_forward

    assert status_moves_forward("queued", "delivered")
    assert not status_moves_forward("delivered", "sent")
    assert status_moves_forward("delivered", "read")
    assert status_moves_forward("sent", "failed")
