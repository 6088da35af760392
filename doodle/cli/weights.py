"""``doodle weights``: list, download, import and inspect pretrained VGG16 and VGG19 weights.

User errors print ``doodle: error: …`` on stderr and exit with the error's code (2
for bad input), as in every command (:mod:`doodle.cli.errors`).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import click

from doodle import weights as w
from doodle.cli.errors import reports_errors


def _cache(cache_dir: Optional[Path]) -> Path:
    return cache_dir if cache_dir is not None else w.cache_dir()


cache_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Weights cache [default: $DOODLE_CACHE, $XDG_CACHE_HOME/doodle or ~/.cache/doodle].",
)


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


class _Progress:
    """A one-line progress display on stderr, redrawn at most 10 times a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: Optional[int]) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and (total is None or done < total):
            return
        self.last = now
        if total:
            width = 30
            filled = int(width * done / total)
            line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {_mb(done)} / {_mb(total)}"
        else:
            line = f"{self.label} {_mb(done)}"
        click.echo(f"\r{line}", err=True, nl=False)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            click.echo("", err=True)


@click.group("weights")
def weights() -> None:
    """Pretrained VGG16 and VGG19 weights: list, download, import, inspect."""


@weights.command("list")
@cache_option
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@reports_errors
def list_sources(cache_dir: Optional[Path], as_json: bool) -> None:
    """Known weight sources (cached or not), the files other libraries' caches
    already hold (torch hub, Keras, Hugging Face; used where they are, not copied),
    and which one --weights auto takes.

    Files found elsewhere are checked against what their publisher gives; the
    result is remembered, so a file is hashed once (until it changes).
    """
    from doodle.weights import discover

    cache = _cache(cache_dir)
    found = w.find_all(cache, notice=lambda line: click.echo(line, err=True))
    choice = next((f for f in found if f.usable), None)
    if as_json:
        click.echo(json.dumps({
            "cache": str(cache),
            "sources": [{"name": s.name, "network": s.arch, "format": s.format, "convention": s.convention,
                         "approx_mb": s.approx_mb, "url": s.url, "licence": s.licence, "note": s.note,
                         "path": str(w.cached_path(s, cache)) if w.cached_path(s, cache).is_file() else None}
                        for s in w.sources()],
            "found": [f.as_dict() for f in found],
            "auto": choice.as_dict() if choice else _shipped(),
            "looked_in": _looked_in(),
        }, indent=1))
        return
    click.echo(f"cache: {cache}")
    click.echo("known sources (doodle weights download NAME):")
    for src in w.sources():
        path = w.cached_path(src, cache)
        where = str(path) if path.is_file() else "not downloaded"
        click.echo(f"  {src.name:18} {src.arch.upper():5} {src.format:11} {src.convention:11} "
                   f"~{src.approx_mb:>4} MB  {where}")
        click.echo(f"  {'':18} {src.url}")
        click.echo(f"  {'':18} licence: {src.licence}")
        if src.note:
            click.echo(f"  {'':18} note: {src.note}")
    imported = [f for f in found if f.place == "doodle" and f.source is None]
    for f in imported:
        click.echo(f"  {'imported':18} {f.network:5} {'safetensors':11} {'':11} {_mb(f.size):>8}  {f.path}")
    elsewhere = [f for f in found if f.place != "doodle"]
    click.echo("found elsewhere (used where they are, not copied):" if elsewhere else
               "found elsewhere: none (looked in " + ", ".join(discover.shorten(p) for p in _looked_in()) + ")")
    for f in elsewhere:
        place = discover.PLACES[f.place]
        click.echo(f"  {f.name:18} {f.network:5} {place:16} {_mb(f.size):>9}  {f.check_text()}")
        click.echo(f"  {'':18} {f.path}" + (f" -> {f.path.resolve()}" if f.path.is_symlink() else ""))
    shipped = _shipped()
    taken = (choice.describe() if choice else f"{shipped['name']}: {shipped['description']} ({shipped['path']})"
             if shipped else "built-in (no pretrained file shipped, cached or found)")
    click.echo(f"--weights auto uses: {taken}")


def _shipped() -> Optional[dict]:
    """The VGG16 doodle ships, as --weights auto takes it when nothing else is found."""
    from doodle.weights import packaged

    path = packaged.packaged_file()
    return {"name": packaged.NAME, "network": "vgg16", "description": packaged.DESCRIPTION,
            "path": str(path)} if path else None


def _looked_in() -> list[str]:
    """The other libraries' folders the search reads."""
    return [str(w.torch_checkpoints()), *map(str, w.keras_models()), str(w.hf_hub_cache())]


@weights.command("download")
@click.argument("name")
@cache_option
@reports_errors
def download(name: str, cache_dir: Optional[Path]) -> None:
    """Download the known weights NAME into the cache (resumable, verified)."""
    src = w.get_source(name)
    progress = _Progress(src.name)
    try:
        result = w.download(src, _cache(cache_dir), progress=progress)
    finally:
        progress.close()
    click.echo(str(result.path))
    if result.verified:
        click.echo(f"verified: {result.verified}", err=True)
    else:
        click.echo(f"sha256 {result.sha256} (no published checksum to verify against)", err=True)


@weights.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--float16", is_flag=True, help="Store half-precision weights (half the size).")
@click.option(
    "--convention",
    type=click.Choice(sorted(w.CONVENTIONS)),
    default=None,
    help="Input convention of FILE, when its format or name does not say.",
)
@cache_option
@reports_errors
def import_file(file: Path, float16: bool, convention: Optional[str], cache_dir: Optional[Path]) -> None:
    """Convert FILE to a compact conv-only safetensors in the cache."""
    out = w.import_weights(file, _cache(cache_dir), float16=float16, convention=convention)
    click.echo(str(out))


@weights.command("info")
@click.argument("spec", metavar="FILE|NAME")
@cache_option
@reports_errors
def info(spec: str, cache_dir: Optional[Path]) -> None:
    """What a weight file (or cached known weights) holds."""
    data = w.info(spec, _cache(cache_dir))
    p = data["preprocess"]
    click.echo(f"path:       {data['path']}")
    if data.get("source"):
        click.echo(f"source:     {data['source']}")
    click.echo(f"format:     {data['format']}")
    click.echo(f"network:    {data['network']}")
    click.echo(f"convention: {data['convention']} ({p['order']}, white={p['scale']:g}, mean={tuple(p['mean'])}, std={tuple(p['std'])})")
    click.echo(f"layers:     {','.join(data['layers'])}")
    click.echo(f"dtype:      {data['dtype']}")
    click.echo(f"size:       {data['size']} bytes")
    click.echo(f"sha256:     {data['sha256']}")
