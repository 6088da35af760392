"""``doodle serve``: the drawing page on a local port (:mod:`doodle.serve`).

Every ``doodle paint`` painting and resource flag is taken, as the default of the
paintings the page asks for; a style pack's recommendations fill those not given,
as they do for ``doodle paint``.
"""
from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path
from typing import Optional

import click

from doodle.cli.errors import EXIT_INTERRUPTED, exit_with
from doodle.cli.options import _apply, concern_options, defaulted, options_from
from doodle.errors import InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _serve_options(f):
    return _apply(concern_options("painting") + concern_options("resources"), f)


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback lets other machines draw and paint here.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
@click.option("--keep", metavar="FOLDER", type=click.Path(file_okay=False),
              help="Where each painting, its doodle and uploaded styles are written, so that "
              "`doodle paint --like` can repaint them. Default: the cache folder's serve/.")
@click.option("--compile-cache/--no-compile-cache", default=True, show_default=True,
              help="Keep compiled programs in the cache folder for faster starts.")
@_serve_options
def serve_command(port: int, host: str, open_browser: bool, keep: Optional[str], compile_cache: bool, **kw) -> None:
    """Draw doodles in the browser in a style's colours, and watch them paint.

    Paintings are made one at a time; the flags below are their defaults.
    """
    from doodle import serve

    missing = serve.missing()
    if missing is not None:
        exit_with(InputError(f"doodle serve needs {missing}, which is not installed.", f"Run: {serve.INSTALL}"))
    try:
        options = options_from(kw)
        from doodle.run import api
        from doodle.io import cache
        from doodle.cli import runtime

        api.check_options(options)
        runtime.setup_jax(options.resources.device, compile_cache)
        folder = Path(keep) if keep else cache.cache_dir() / "serve"
        folder.mkdir(parents=True, exist_ok=True)
        from doodle.serve.run import Listening, serve_forever

        def ready(listening: Listening) -> None:
            click.echo(f"doodle: serving {listening.url} (Ctrl-C stops); paintings go to {folder}", err=True)
            if host not in LOOPBACK:
                import socket

                click.echo(f"doodle: warning: listening on {host}: anyone who can reach this machine on port "
                           f"{listening.port} can use the page and paint here (at http://{socket.gethostname()}:"
                           f"{listening.port}/, say).", err=True)
            if open_browser:
                webbrowser.open(listening.url)

        serve_forever(options, defaulted(kw), folder, host=host, port=port, ready=ready)
    except InputError as e:
        exit_with(e)
    except OSError as e:  # the port is taken, the address not ours
        exit_with(InputError(f"cannot listen on {host}:{port}: {e.strerror or e}.", "Try another --port."))
    except KeyboardInterrupt as e:
        dropped = "; the painting under way was dropped" if getattr(e, "dropped", False) else ""
        click.echo(f"doodle: interrupted{dropped}", err=True)
        if dropped:
            # The painting thread may be deep inside XLA (compiling, say): finalising the
            # interpreter under it aborts the process (SIGABRT). Nothing is left to write.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        sys.exit(EXIT_INTERRUPTED)
