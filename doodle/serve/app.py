"""The routes: the page, the styles, uploads, paintings and their progress stream.

JSON in and out; images as base64 in JSON on the way in, as PNG files on the way
out. Every refusal is ``{"error": …, "hint": …}`` with a 4xx status, and the server
goes on. Nothing the client sends names a path on the server: styles and paintings
are named by ids the server made.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Collection, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from doodle.io import imaging
from doodle.errors import InputError
from doodle.plan.options import Options
from doodle.serve import jobs, quality, uploads
from doodle.serve.guard import Guard, allowed_hosts
from doodle.serve.styles import Styles

STATIC = Path(__file__).resolve().parent / "static"
POLL = 0.1  # seconds between looks at a job's events while streaming them


def error_response(e: InputError) -> JSONResponse:
    """A refusal as the page shows it: what is wrong (a sentence), how to fix it."""
    status = 413 if isinstance(e, uploads.TooLarge) else 400
    message = e.message.strip()
    return JSONResponse({"error": message[:1].upper() + message[1:], "hint": e.hint}, status_code=status)


async def read_body(request: Request, limit: int = uploads.MAX_BODY) -> bytes:
    """The body, refused past ``limit`` bytes before more is read (Content-Length first)."""
    declared = request.headers.get("content-length")
    too_large = uploads.TooLarge(f"the upload is larger than this server takes ({limit // 2**20} MiB).",
                                 "Send smaller images.")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def png(data: bytes, filename: Optional[str] = None) -> Response:
    headers = {"cache-control": "no-store"}
    if filename:
        headers["content-disposition"] = f'attachment; filename="{filename}"'
    return Response(data, media_type="image/png", headers=headers)


class Server:
    """The app's state: the styles, the painter, the defaults; and its routes."""

    def __init__(self, options: Options, unset: Collection[str], keep: Path, shared: Any = None,
                 pack_list: Optional[list] = None, max_body: int = uploads.MAX_BODY) -> None:
        self.max_body = max_body
        self.styles = Styles(keep, pack_list)
        self.painter = jobs.Painter(self.styles, options, unset, keep, shared)
        self.options = options
        self.stopping = False

    # --- styles --------------------------------------------------------------------

    async def list_styles(self, request: Request) -> Response:
        return JSONResponse({"styles": [s.summary() for s in self.styles.all()],
                             "qualities": list(quality.QUALITIES)})

    async def style_image(self, request: Request) -> Response:
        style = self.styles.get(request.path_params["style"])
        which = request.path_params["which"]
        array = {"image": style.image, "map": style.map, "sample": style.sample}.get(which)
        if array is None:
            raise InputError(f"style {style.name!r} has no {which[:20]}.")
        return png(imaging.encode_image(array, ".png"))

    async def upload_style(self, request: Request) -> Response:
        body = uploads.parse_json(await read_body(request, self.max_body))
        image = uploads.read_image(body.get("image"), "painting")
        map_rgb = uploads.read_image(body["map"], "map") if body.get("map") else None
        name = str(body.get("name") or "uploaded")
        style = await asyncio.to_thread(self.styles.add, name, image, map_rgb)
        return JSONResponse(style.summary())

    async def edit_map(self, request: Request) -> Response:
        body = uploads.parse_json(await read_body(request, self.max_body))
        map_rgb = uploads.read_image(body.get("map"), "map")
        style = await asyncio.to_thread(self.styles.replace_map, request.path_params["style"], map_rgb)
        return JSONResponse(style.summary())

    async def photo_map(self, request: Request) -> Response:
        """A photo's map in a style's colours, to start a doodle from."""
        from doodle.serve.photo import photo_map

        body = uploads.parse_json(await read_body(request, self.max_body))
        style = self.styles.get(str(body.get("style", "")))
        photo = uploads.read_image(body.get("photo"), "photo")
        map_rgb = await asyncio.to_thread(photo_map, photo, style.image, style.map)
        return png(imaging.encode_image(map_rgb, ".png"))

    # --- paintings -----------------------------------------------------------------

    async def paint(self, request: Request) -> Response:
        body = uploads.parse_json(await read_body(request, self.max_body))
        style = self.styles.get(str(body.get("style", "")))
        doodle = uploads.read_image(body.get("doodle"), "doodle")
        await asyncio.to_thread(uploads.check_doodle, doodle, style.map)
        content = uploads.read_image(body["content"], "photo") if body.get("content") else None
        width = uploads.optional_int(body.get("width"), "width", 16, uploads.MAX_SIDE)
        height = uploads.optional_int(body.get("height"), "height", 16, uploads.MAX_SIDE)
        seed = uploads.optional_int(body.get("seed"), "seed", 0, 2**31 - 1)
        level = str(body.get("quality") or "normal")
        if level not in quality.QUALITIES:
            raise InputError(f"unknown quality {level[:20]!r}.", f"Use one of {', '.join(quality.QUALITIES)}.")
        size = (width, height) if width and height else None
        job = self.painter.submit(jobs.Request(style.id, doodle, level, size, seed, content))
        return JSONResponse({"job": job.id, "name": job.name, "position": self.painter.position(job),
                             "events": f"/api/jobs/{job.id}/events"})

    async def events(self, request: Request) -> Response:
        """The job's events as server-sent events, from its first to its last."""
        job = self.painter.get(request.path_params["job"])

        async def stream() -> AsyncIterator[bytes]:
            index, position = 0, None
            while not self.stopping:
                if job.state == jobs.QUEUED:
                    now = self.painter.position(job)
                    if now != position:
                        position = now
                        yield _sse({"event": "queued", "position": now})
                new = job.since(index)
                index += len(new)
                for event in new:
                    yield _sse(event)
                    if event["event"] in jobs.ENDED:
                        return
                await asyncio.sleep(POLL)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    async def cancel(self, request: Request) -> Response:
        job = self.painter.get(request.path_params["job"])
        self.painter.cancel(job)
        return JSONResponse({"job": job.id, "state": job.state})

    async def painting(self, request: Request) -> Response:
        job = self.painter.get(request.path_params["job"])
        if job.painting is None:
            raise InputError("this painting is not finished.", "Wait for it.")
        return png(job.painting, f"{job.name}.png")

    async def doodle(self, request: Request) -> Response:
        job = self.painter.get(request.path_params["job"])
        if job.doodle is None:
            raise InputError("this doodle has not been read yet.", "Wait for the painting to start.")
        return png(job.doodle, f"{job.name}_sem.png")

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})


def _sse(event: dict) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()


def _guarded(handler):
    """A route handler whose InputError is a JSON 4xx answer (the server goes on)."""
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except InputError as e:
            return error_response(e)
    return run


def create_app(options: Options = Options(), unset: Optional[Collection[str]] = None, *, keep: Path,
               host: str = "127.0.0.1", shared: Any = None, pack_list: Optional[list] = None,
               max_body: int = uploads.MAX_BODY, started: Optional[Callable[[], None]] = None) -> Any:
    """The ASGI app: ``options`` are the paintings' defaults (``unset``: the fields a
    style pack's recommendations fill; default: those at their defaults), ``keep``
    the folder for paintings and uploaded styles, ``host`` the address bound (for the
    Host check), ``max_body`` the bytes one request may send; ``started`` is called once
    it is serving. Its ``server`` is the :class:`Server`."""
    from doodle.plan.options import DEFAULTS

    if unset is None:
        given, defaults = options.flat(), DEFAULTS.flat()
        unset = {name for name, value in given.items() if value == defaults[name]}
    server = Server(options, unset, keep, shared, pack_list, max_body)
    g = _guarded
    routes = [
        Route("/", server.index),
        Route("/api/styles", g(server.list_styles)),
        Route("/api/styles", g(server.upload_style), methods=["POST"]),
        Route("/api/styles/{style}/map", g(server.edit_map), methods=["POST"]),
        Route("/api/styles/{style}/{which}.png", g(server.style_image)),
        Route("/api/photo-map", g(server.photo_map), methods=["POST"]),
        Route("/api/paint", g(server.paint), methods=["POST"]),
        Route("/api/jobs/{job}/events", g(server.events)),
        Route("/api/jobs/{job}/cancel", g(server.cancel), methods=["POST"]),
        Route("/api/jobs/{job}/painting.png", g(server.painting)),
        Route("/api/jobs/{job}/doodle.png", g(server.doodle)),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if started is not None:
            started()
        yield
        server.stopping = True  # ends the progress streams, so shutdown need not wait on them
        server.painter.stop()  # drops the painting under way

    app = Starlette(routes=routes, lifespan=lifespan)
    guard = Guard(app, allowed_hosts(host), any_address=host in ("0.0.0.0", "::"))
    guard.server = server
    return guard
