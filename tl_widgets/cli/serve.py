"""``tl-widgets serve``: the Studio for shared use (workshops, a lab server).

The hardened sibling of ``tl-widgets studio``: a token (``--no-token`` only
on loopback; it moves from the URL to a cookie), data roots only, an upload
limit checked in Python (and Tornado's websocket limit raised above it), CPU
threads limited per kernel, a cap on kernels (``--max-seats``), idle and
never-connected kernels shut down, notebook sources never sent. ``--workshop
FILE`` sets the teacher's limits (allowed backbones, epochs, batch size, ...)
and checks that the weights the allowed backbones need are already cached;
without it the room gets the workshop defaults. Flags override the workshop's
values and are checked against the same declared bounds.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tl_widgets.cli.studio import add_token_flags
from tl_widgets.core.i18n import _
from tl_widgets.core.room.workshop import workshop_default
from tl_widgets.server.voila_launch import LaunchOptions

__all__ = ["register", "build_options", "seats_root", "instructor_options"]

def register(sub: Any) -> None:
    """Adds the ``serve`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    p = sub.add_parser(
        "serve", help=_("serve the Studio safely for several users (workshops)"),
        description=_("Serve the Studio with Voilà and safe defaults for shared use: a token (--no-token only on "
                      "localhost), data roots only, an upload size limit, CPU threads limited per kernel, idle "
                      "kernels shut down, sources stripped. --workshop FILE sets the teacher's limits "
                      "(see docs/WORKSHOP.md)."),
    )
    p.add_argument("--workshop", metavar="FILE", help=_("a workshop YAML file (data roots, allowed backbones, limits)"))
    p.add_argument("--port", type=int, default=8866, help=_("port (default 8866; 0 picks a free one)"))
    p.add_argument("--ip", default="127.0.0.1",
                   help=_("address to listen on (default 127.0.0.1; any other address requires a token)"))
    add_token_flags(p)
    p.add_argument("--data-root", action="append", default=[], metavar="DIR",
                   help=_("a folder students may pick data from (repeatable; added to the workshop's)"))
    p.add_argument("--max-upload-mb", type=float, default=None,
                   help=_("largest zip a user may upload (default: the workshop's, else {mb:g})").format(
                       mb=workshop_default("max_upload_mb")))
    p.add_argument("--threads", type=int, default=None,
                   help=_("CPU threads per kernel (default: the workshop's, else 1)"))
    p.add_argument("--max-starting", type=int, default=None, metavar="N",
                   help=_("Studio pages prepared at once (default: CPU cores); later visitors see "
                          "'waiting for a seat, N ahead' until their turn"))
    p.add_argument("--idle-minutes", type=float, default=None,
                   help=_("shut down kernels idle this long (default: the workshop's, else {minutes:g})").format(
                       minutes=workshop_default("idle_timeout_minutes")))
    p.add_argument("--unconnected-minutes", type=float, default=None,
                   help=_("shut down a kernel whose page never connected this long after the page was sent "
                          "(default: the workshop's, else {minutes:g})").format(
                       minutes=workshop_default("unconnected_minutes")))
    p.add_argument("--max-seats", type=int, default=None, metavar="N",
                   help=_("student kernels at once; later visitors see 'the room is full' (default: the workshop's, "
                          "else sized from memory: 0.25 GiB per seat beside 1 GiB per engine worker, 1 GiB per seat "
                          "with --engine in-process)"))
    p.add_argument("--skip-weights-check", action="store_true",
                   help=_("start even when an allowed backbone's weights are not cached (they will download)"))
    p.add_argument("--instructor-port", type=int, default=0,
                   help=_("port of the instructor view (with --workshop; default: a free one). It has its own "
                          "token: keep its URL to yourself"))
    p.add_argument("--engine", default="local", metavar="WHERE",
                   help=_("where Keras work runs: 'local' (warm worker processes started with the room; students' "
                          "kernels never import TensorFlow), 'ray://HOST:PORT' (Ray actors on a cluster), or "
                          "'in-process' (each student's kernel trains itself, as before)"))
    p.add_argument("--gpus", type=int, default=0, metavar="N",
                   help=_("GPUs on this machine to spread the workers over (each worker sees one; default 0)"))
    p.add_argument("--gpu-memory-fraction", type=float, default=None, metavar="F",
                   help=_("with JAX, the share of a GPU's memory one worker may take (default: as needed)"))
    p.add_argument("--https", action="store_true",
                   help=_("serve over HTTPS with a self-signed certificate for this machine (made once, kept in the "
                          "home); prints its SHA-256 fingerprint for students to compare"))
    p.add_argument("--certfile", metavar="PEM", help=_("serve over HTTPS with this certificate (with --keyfile)"))
    p.add_argument("--keyfile", metavar="PEM", help=_("the certificate's private key (with --certfile)"))
    p.add_argument("--preheat", type=int, default=0, metavar="N",
                   help=_("Studio pages Voilà prepares before students arrive (its kernel pool; default 0)"))
    p.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="F",
                   help=_("with --engine ray://…, the GPUs (or a fraction) each training worker reserves (default 0)"))
    p.add_argument("--no-browser", action="store_true", help=_("don't open a browser"))
    p.set_defaults(func=_run)


def build_options(args: argparse.Namespace) -> LaunchOptions:
    """Turns parsed ``serve`` arguments (and the workshop file) into launch options.

    Without ``--workshop`` the room gets the workshop defaults (:func:`~tl_widgets.core.room.workshop.served_defaults`);
    a command-line flag overrides the workshop's value and is checked against the same declared bounds.

    Raises:
        ValueError: An argument or the workshop file is invalid, weights are missing, or the room's
            queue database is damaged.
    """
    from tl_widgets.cli.studio import resolve_data_roots, resolve_token
    from tl_widgets.core.room.workshop import check_workshop_value, load_workshop, served_defaults

    if not 0 <= args.port < 65536:
        raise ValueError(f"Expected --port between 0 and 65535. Received: {args.port}")
    workshop = load_workshop(args.workshop) if args.workshop else None
    if workshop is not None and not args.skip_weights_check:
        workshop.check_weights()
    roots = list(workshop.data_roots) if workshop else []
    for root in resolve_data_roots(args.data_root):
        if root not in roots:
            roots.append(root)
    if not roots:
        raise ValueError("Expected at least one data root (--data-root DIR or data_roots in the workshop file). "
                         "Received: none — users could only use the demo data and uploads")
    limits = workshop if workshop is not None else served_defaults(roots)

    def pick(flag: str, name: str) -> Any:
        given = getattr(args, flag.lstrip("-").replace("-", "_"))
        return check_workshop_value(name, given, flag) if given is not None else getattr(limits, name)

    upload_mb = pick("--max-upload-mb", "max_upload_mb")
    threads = pick("--threads", "threads_per_kernel")
    idle = pick("--idle-minutes", "idle_timeout_minutes")
    unconnected = pick("--unconnected-minutes", "unconnected_minutes")
    seats = pick("--max-seats", "max_seats")
    starting = args.max_starting if args.max_starting is not None else max(1, os.cpu_count() or 1)
    if not 1 <= starting <= 1024:
        raise ValueError(f"Expected --max-starting between 1 and 1024. Received: {starting}")
    token = resolve_token(args)
    certfile, keyfile = tls_files(args)
    return LaunchOptions(
        port=args.port, ip=args.ip, data_roots=roots, token=token, certfile=certfile, keyfile=keyfile,
        max_upload_bytes=int(upload_mb * 2**20), threads=threads, cull_idle_s=int(idle * 60),
        strip_sources=True, workshop=workshop.path if workshop else None, seats=seats_root(),
        max_starting=starting, preheat=_preheat(args), max_seats=seats if seats is not None else _seats(args, limits),
        cull_unconnected_s=max(1, int(unconnected * 60)),
    )


def _seats(args: argparse.Namespace, limits: Any) -> int:
    """The room's seat cap when neither the workshop file nor ``--max-seats`` sets one: sized from memory, for thin
    seats and the engine's workers (``--engine local``/``ray://``) or for kernels that train themselves."""
    from tl_widgets.core.room.workshop import seats_for_memory

    if getattr(args, "engine", "local") == "in-process":
        return seats_for_memory()
    local_workers = limits.training_slots + 1 if getattr(args, "engine", "local") == "local" else 0
    return seats_for_memory(workers=local_workers)


def tls_files(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """``(certfile, keyfile)`` from ``--certfile``/``--keyfile`` or ``--https`` (a self-signed one; its fingerprint
    is printed), else ``(None, None)``.

    Raises:
        ValueError: Only one of the pair, ``--https`` with a certificate, or files that do not load.
    """
    from tl_widgets.server.tls import self_signed, server_context

    cert, key = getattr(args, "certfile", None), getattr(args, "keyfile", None)
    if bool(cert) != bool(key):
        raise ValueError(f"Expected --certfile and --keyfile together. Received: --certfile={cert!r}, --keyfile={key!r}")
    if cert and getattr(args, "https", False):
        raise ValueError("Expected either --https (a self-signed certificate) or --certfile/--keyfile. Received: both")
    if cert:
        server_context(cert, key)  # refused here, with the reason, rather than by the server after start
        return Path(cert).resolve(), Path(key).resolve()
    if not getattr(args, "https", False):
        return None, None
    from tl_widgets.core.settings import home_path

    cert_path, key_path, sha256 = self_signed(home_path("tls"))
    print(_("HTTPS with a self-signed certificate: browsers will warn once; its SHA-256 fingerprint is {fingerprint}"
            ).format(fingerprint=sha256), flush=True)
    return cert_path, key_path


def _preheat(args: argparse.Namespace) -> int:
    preheat = int(getattr(args, "preheat", 0) or 0)
    if not 0 <= preheat <= 256:
        raise ValueError(f"Expected --preheat between 0 and 256. Received: {preheat}")
    return preheat


def seats_root() -> Path:
    """Where ``serve`` keeps its seats: ``<home>/seats`` (0700), made ready for a new room.

    Temp left by killed kernels is swept, the last room's pushed config is cleared (it must not reach
    today's seats) and the room's queue database is checked.

    Raises:
        RoomQueueError: The queue database is damaged (the message says which file and what to do).
    """
    from tl_widgets.core.room.control import clear_pushed_config
    from tl_widgets.core.room.queue import QUEUE_FILE, check_queue_file
    from tl_widgets.core.room.seat import sweep_seats
    from tl_widgets.core.settings import home_path

    root = home_path("seats")
    sweep_seats(root)
    clear_pushed_config(root)
    check_queue_file(root / QUEUE_FILE)
    return root


def instructor_options(opts: LaunchOptions, port: int = 0) -> LaunchOptions:
    """The instructor view's launch options: the room's seats and workshop, its own port and token.

    Raises:
        ValueError: ``port`` is out of range or the one the Studio uses.
    """
    from tl_widgets.server.voila_launch import new_token

    if not 0 <= port < 65536 or (port and port == opts.port):
        raise ValueError(f"Expected --instructor-port between 0 and 65535, not the Studio's. Received: {port}")
    return LaunchOptions(port=port, ip=opts.ip, token=new_token(), threads=1, strip_sources=True,
                         workshop=opts.workshop, seats=opts.seats, certfile=opts.certfile, keyfile=opts.keyfile)


def _run(args: argparse.Namespace) -> int:
    from tl_widgets.cli.errors import fail
    from tl_widgets.cli.studio import launch
    from tl_widgets.server.room_engine import engine_options, start_room_engine
    from tl_widgets.server.voila_launch import Companion, instructor_notebook

    try:
        opts = build_options(args)
        engine = engine_options(args.engine, opts.workshop, threads=args.threads, gpus=args.gpus,
                                gpu_memory_fraction=args.gpu_memory_fraction, gpus_per_worker=args.gpus_per_worker)
        companions = []
        if args.workshop:
            teacher = instructor_options(opts, args.instructor_port)
            companions.append(Companion(teacher, instructor_notebook(), lambda url: print(
                _("Instructor view (its own token; keep it to yourself): {url}").format(url=url), flush=True)))
    except (ValueError, RuntimeError) as exc:
        return fail(str(exc))
    if engine is None:
        return launch(opts, open_browser=not args.no_browser, label="tl-widgets Studio (serve)",
                      companions=companions)
    print(_("Starting the room's engine ({heavy} training workers, {quick} for quick jobs)…").format(
        heavy=engine.heavy, quick=engine.quick), flush=True)
    try:
        room = start_room_engine(opts.seats or seats_root(), engine, data_roots=opts.data_roots,
                                 workshop=opts.workshop)
    except (ValueError, TimeoutError, ImportError, OSError) as exc:
        return fail(_("Cannot start the room's engine: {reason}").format(reason=exc))
    with room:
        opts.extra_env.update(room.env())
        for extra in companions:
            extra.opts.extra_env.update(room.env())
        return launch(opts, open_browser=not args.no_browser, label="tl-widgets Studio (serve)",
                      companions=companions)
