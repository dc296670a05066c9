"""The waiting room's bookkeeping: first come first served, N ahead counted from the server's own state,
turns that are not taken pass on, stale tickets drop out, and browser input is checked."""

from __future__ import annotations

import pytest

from tl_widgets.server.waiting_room import RESERVE_S, STALE_S, WaitingRoom, valid_ticket, waiting_page


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_line_order_and_count():
    clock = Clock()
    room = WaitingRoom(1, clock)
    assert room.enter(None)                       # first page: built at once
    assert not room.enter(None)                   # second: must wait
    a = room.join()
    b = room.join()
    assert room.poll(a) == {"go": False, "ahead": 1}
    assert room.poll(b) == {"go": False, "ahead": 2}
    assert not room.enter(None)                   # a newcomer never jumps the line
    room.leave()                                  # the first page is built
    assert room.poll(b) == {"go": False, "ahead": 1}
    assert room.poll(a) == {"go": True, "ahead": 0}
    assert room.poll(b) == {"go": False, "ahead": 1}   # a's turn is reserved for it
    assert not room.enter(b) and room.enter(a)
    room.leave()
    assert room.poll(b)["go"] and room.enter(b)


def test_turn_not_taken_and_stale_tickets_pass_on():
    clock = Clock()
    room = WaitingRoom(1, clock)
    assert room.enter(None)
    a, b = room.join(), room.join()
    room.leave()
    assert room.poll(a)["go"]
    clock.now += RESERVE_S + 1                    # a never came: its turn lapses
    room.poll(b)
    clock.now += STALE_S / 2
    assert room.poll(b)["go"]
    assert room.enter(b)
    c = room.join()
    clock.now += STALE_S + 1                      # c's tab closed: dropped, then back in line when it asks
    assert room.ahead(c) == 1
    room.leave()
    assert room.poll(c)["go"]


def test_bad_input():
    with pytest.raises(ValueError, match="Expected a waiting-room limit >= 1. Received: 0"):
        WaitingRoom(0)
    assert valid_ticket("abc") is None and valid_ticket("x" * 40) is None and valid_ticket(None) is None
    assert valid_ticket("<script>alert(1)</script>") is None and valid_ticket("Good_ticket-1") == "Good_ticket-1"
    page = waiting_page(3, "Good_ticket-1", "/tl-widgets-wait")
    assert "Waiting for a seat, <span class=\"n\">3</span> ahead." in page and "Good_ticket-1" in page


@pytest.mark.parametrize("flag", ["--max-starting=0", "--max-starting=x", "--max-starting=-1"])
def test_the_server_entry_point_refuses_a_bad_limit(flag):
    from tl_widgets.server.voila_entry import main

    with pytest.raises(SystemExit, match="--max-starting=<n >= 1>"):
        main([flag, "--"])


def test_tickets_are_the_servers_and_answer_only_to_their_browser():
    """#25 L2: 50 made-up tickets put an honest visitor 50th; at 1,000 new visitors got 503."""
    from tl_widgets.server.waiting_room import MAX_PER_OWNER, TicketError

    clock = Clock()
    room = WaitingRoom(1, clock, max_line=5)
    assert room.enter(None, "builder")
    with pytest.raises(TicketError, match="Expected a ticket this browser was given"):
        room.poll("madeUpTicket01", "attacker")  # never issued: refused, never in line
    assert room.join("attacker", "madeUpTicket02") != "madeUpTicket02"  # a made-up ticket is replaced
    honest = room.join("honest")
    assert room.poll(honest, "honest") == {"go": False, "ahead": 2}
    with pytest.raises(TicketError, match="this browser was given"):
        room.poll(honest, "attacker")  # someone else's ticket
    for _ in range(MAX_PER_OWNER - 1):
        room.join("attacker")
    with pytest.raises(TicketError, match=f"at most {MAX_PER_OWNER} waiting tabs per browser"):
        room.join("attacker")
    room.join("late")
    with pytest.raises(TicketError, match="at most 5 visitors waiting"):  # the line is the room's size
        room.join("late")


def test_the_entry_point_takes_the_rooms_flags():
    from tl_widgets.server.room_server import RoomOptions, room_settings, student_id
    from tl_widgets.server.voila_launch import LaunchOptions, voila_argv

    argv = voila_argv(LaunchOptions(token="t" * 20, max_starting=2, max_seats=3, cull_unconnected_s=90))
    assert {"--max-starting=2", "--max-seats=3", "--unconnected-s=90"} <= set(argv)
    settings = room_settings(RoomOptions(max_starting=2, max_seats=3))
    assert settings["tl_widgets_waiting_room"].max_line == 3 and "log_function" in settings
    assert student_id("a") != student_id("b") and len(student_id("a")) == 32
    from tl_widgets.core.settings import STUDENT_ENV, STUDENT_HEADER

    assert STUDENT_ENV == "HTTP_" + STUDENT_HEADER.upper().replace("-", "_")  # what Voilà's http_header_envs sets
