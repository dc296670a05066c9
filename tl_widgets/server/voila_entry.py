"""The Voilà server process that ``tl-widgets studio`` and ``serve`` start (``python -m tl_widgets.server.voila_entry``).

``python -m tl_widgets.server.voila_entry [FLAGS] -- VOILA_ARGS`` hands Voilà an
integer websocket limit (Voilà reads ``--Voila.tornado_settings`` from the
command line as strings), turns the Host-header check back on for a loopback
server (Voilà turns it off, which lets a web page reach a local server through
DNS rebinding), serves HTTPS when given a certificate, puts the Studio page
behind the room's door for ``serve``, and takes the access token from
``$TL_WIDGETS_TOKEN`` — never from the command line, which ``ps`` shows to
every user — removing it from the environment before any kernel starts.
:func:`tl_widgets.server.voila_launch.voila_argv` builds its command line.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from tl_widgets.core.settings import TOKEN_ENV

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m tl_widgets.server.voila_entry [FLAGS] -- VOILA_ARGS``.

    Flags: ``--websocket-max-bytes=N``, ``--local-only``, and the room's
    ``--max-starting=N``, ``--max-seats=N``, ``--unconnected-s=N`` (any of
    these serves the Studio behind the room's door: :mod:`tl_widgets.server.room_server`).
    The token is read from ``$TL_WIDGETS_TOKEN`` and removed from the
    environment (the kernels inherit it otherwise); without it Voilà serves
    without authentication. Requests are logged with the token scrubbed.
    """
    from jupyter_server.log import log_request

    args = list(sys.argv[1:] if argv is None else argv)
    settings: dict[str, object] = {"log_function": log_request}
    room: dict[str, float] = {}
    tls: dict[str, str] = {}
    while args and args[0] != "--":
        flag = args.pop(0)
        name, _, value = flag.partition("=")
        if name == "--local-only" and not value:
            settings["allow_remote_access"] = False  # Host header must name this machine (no DNS rebinding)
        elif name == "--websocket-max-bytes" and value.isdigit():
            settings["websocket_max_message_size"] = int(value)
        elif name in ("--max-starting", "--max-seats", "--unconnected-s") and value.isdigit() and int(value) >= 1:
            room[name[2:].replace("-", "_")] = int(value)
        elif name in ("--certfile", "--keyfile") and value:
            tls[name[2:]] = value
        else:
            raise SystemExit("Expected --websocket-max-bytes=<bytes>, --max-starting=<n >= 1>, --max-seats=<n >= 1>, "
                             "--unconnected-s=<n >= 1>, --certfile=<pem>, --keyfile=<pem> or --local-only before '--'. "
                             f"Received: {flag!r}")
    if args and args[0] == "--":
        args.pop(0)
    if any(a.split("=")[0] in ("--token", "--Voila.token") for a in args):
        raise SystemExit("Expected the token in $TL_WIDGETS_TOKEN. Received: a token on the command line")
    token = os.environ.pop(TOKEN_ENV, "")
    for name in ("JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE"):
        os.environ.pop(name, None)
    from tl_widgets.server.log_scrub import install_log_scrubber

    install_log_scrubber()
    from voila.app import Voila

    if room:  # serve: the Studio page behind the room's door (cookie, clean URL, seat cap, waiting line)
        from tl_widgets.server.room_server import RoomOptions, room_settings, room_voila

        settings.update(room_settings(RoomOptions(max_starting=int(room.get("max_starting", 0)) or None,
                                                  max_seats=int(room.get("max_seats", 0)),
                                                  unconnected_s=float(room.get("unconnected_s", 120)))))
        Voila = room_voila()  # noqa: N806
    if tls:
        from tl_widgets.server.tls import server_context, tls_voila

        if set(tls) != {"certfile", "keyfile"}:
            raise SystemExit(f"Expected --certfile and --keyfile together. Received: {sorted(tls)}")
        try:
            Voila = tls_voila(Voila, server_context(tls["certfile"], tls["keyfile"]))  # noqa: N806
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
    Voila.launch_instance(argv=args, tornado_settings=settings, token=token or None)


if __name__ == "__main__":
    main()
