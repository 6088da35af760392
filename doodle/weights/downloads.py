"""``doodle weights download``: fetch a known source into the cache, resumable,
verified against its published checks, atomic.

Most sources are fetched whole (into ``<file>.part``, resumed with a Range request).
Safetensors sources marked ``ranged`` are fetched in part: only the conv tensors,
found from the remote header, stored as a compact file in doodle's layout.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import os
import re
import struct
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence, Union

from doodle.errors import InputError
from doodle.weights.catalog import Source, file_digests, get_source, verify
from doodle.weights.layout import (
    CONVENTIONS, TORCH_KEYS_OF, PathLike, arch_in, export_tensors, layers_to_read, metadata_for, params_from_torch,
)
from doodle.weights.safetensors import MAX_HEADER, decode_tensor, parse_safetensors_header, write_safetensors
from doodle.weights.store import cached_path

ProgressFn = Callable[[int, Optional[int]], None]  # (bytes done, bytes in all or None)


@dataclasses.dataclass(frozen=True)
class Downloaded:
    """A source in the cache, and what was checked of it."""

    path: Path
    sha256: str  # of the cached file
    verified: str  # which published checks passed ("sha256", "md5", "size, sha256 prefix"); "" if none known


def _open(url: str, timeout: float, start: int = 0, end: Optional[int] = None) -> http.client.HTTPResponse:
    headers = {"User-Agent": "doodle-weights"}
    if start or end is not None:
        headers["Range"] = f"bytes={start}-{'' if end is None else end}"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _network_error(url: str, exc: BaseException) -> InputError:
    return InputError(f"download from {url} failed ({exc})", "check the connection and run the command again: it resumes.")


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def _fetch_to(url: str, part: Path, progress: Optional[ProgressFn], timeout: float, expected: Optional[int]) -> None:
    """Download ``url`` into ``part``, resuming from what ``part`` already holds."""
    have = part.stat().st_size if part.exists() else 0
    if expected is not None and have > expected:
        part.unlink()
        have = 0
    if expected is not None and have == expected:
        return
    try:
        resp = _open(url, timeout, start=have)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left past what we have
            return
        raise _network_error(url, exc) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from None
    with resp:
        total: Optional[int] = None
        if have and resp.status == 206:
            match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have:
                raise InputError(f"download from {url} resumed at the wrong place", "delete the .part file and retry.")
            total = int(match.group(3)) if match.group(3) != "*" else None
            mode = "ab"
        else:  # the server sent the whole file: start over
            have, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        try:
            with open(part, mode) as out:
                if progress:
                    progress(have, total)
                while True:
                    block = resp.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
                    have += len(block)
                    if progress:
                        progress(have, total)
        except (OSError, http.client.HTTPException) as exc:
            raise _network_error(url, exc) from None
    if total is not None and have < total:
        raise _network_error(url, EOFError(f"connection closed after {have} of {total} bytes"))


def download(
    source: Union[Source, str], cache: PathLike, *, progress: Optional[ProgressFn] = None, timeout: float = 60.0,
    partial: bool = False,
) -> Downloaded:
    """Fetch a known source into ``cache``: resumable, verified, atomic.

    Bytes go to ``<file>.part`` (a rerun resumes it with a Range request); the file
    is checked against every published size/checksum of the source, deleted on a
    mismatch (nothing is cached), and renamed into place only when it passes.
    Safetensors sources marked ``ranged`` fetch only the conv tensors and store a
    compact conv-only file (``partial``: accept a remote file with only conv1_1…convK,
    for tests). A file already cached is not fetched again.
    """
    src = get_source(source) if isinstance(source, str) else source
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    dest = cached_path(src, cache)
    if not dest.is_file():
        if src.ranged:
            _download_ranged(src, dest, progress, timeout, partial)
        else:
            _download_whole(src, dest, progress, timeout)
    sha256, md5 = file_digests(dest)
    passed, problem = ("", "") if src.ranged else verify(src, dest.stat().st_size, sha256, md5)
    if problem:
        raise InputError(f"cached {dest} does not match {src.name}: {problem}", f"delete it and download again.")
    return Downloaded(dest, sha256, passed)


def _download_whole(src: Source, dest: Path, progress: Optional[ProgressFn], timeout: float) -> None:
    """Fetch the whole file into ``dest.part`` (resuming it) and rename it to ``dest``
    once it passes the source's checks; a file that fails them is deleted."""
    part = dest.with_name(dest.name + ".part")
    _fetch_to(src.url, part, progress, timeout, src.size)
    sha256, md5 = file_digests(part)
    _, problem = verify(src, part.stat().st_size, sha256, md5)
    if problem:
        part.unlink()
        raise InputError(
            f"download of {src.name} is corrupt: {problem}; nothing was cached",
            "run the command again; if it fails again, the file upstream has changed.",
        )
    os.replace(part, dest)


def _fetch_range(url: str, start: int, end: int, timeout: float) -> bytes:
    """Bytes ``start``…``end`` (inclusive) of ``url``; the server must honour Range."""
    try:
        with _open(url, timeout, start=start, end=end) as resp:
            if resp.status != 206:
                raise InputError(f"{url} does not support range requests", "download the whole file and import it.")
            data = resp.read()
    except InputError:
        raise
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _network_error(url, exc) from None
    if len(data) != end - start + 1:
        raise _network_error(url, EOFError(f"got {len(data)} of {end - start + 1} bytes"))
    return data


class _Planned(NamedTuple):
    name: str  # tensor name in the remote file
    start: int  # absolute byte offsets in the remote file
    end: int  # exclusive


def _conv_plan(header: Mapping[str, Mapping[str, Any]], data_start: int, partial: bool = False) -> list[_Planned]:
    """The remote conv tensors (torchvision naming) to fetch, in file order, of the
    network the header describes (VGG16 and VGG19 number ``features`` differently)."""
    arch = arch_in(lambda a, conv: TORCH_KEYS_OF[a][conv][0] in header)
    keys = TORCH_KEYS_OF[arch]
    convs = layers_to_read(lambda conv: keys[conv][0] in header, partial, "the remote safetensors file", arch)
    names = [k for conv in convs for k in keys[conv]]
    missing = [n for n in names if n not in header]
    if missing:
        raise InputError(f"the remote safetensors file lacks {missing[0]}",
                         "it is not a torchvision-named VGG16 or VGG19.")
    plan = [_Planned(n, data_start + header[n]["data_offsets"][0], data_start + header[n]["data_offsets"][1]) for n in names]
    return sorted(plan, key=lambda p: p.start)


def _runs(plan: Sequence[_Planned]) -> list[tuple[int, int]]:
    """Contiguous byte ranges covering ``plan`` (adjacent tensors share one request)."""
    runs: list[tuple[int, int]] = []
    for item in plan:
        if runs and runs[-1][1] == item.start:
            runs[-1] = (runs[-1][0], item.end)
        else:
            runs.append((item.start, item.end))
    return runs


def _download_ranged(
    src: Source, dest: Path, progress: Optional[ProgressFn], timeout: float, partial: bool = False
) -> None:
    """Fetch only the conv tensors of a remote safetensors file and write them, in
    doodle's layout with the source's preprocessing, to ``dest``.

    The tensors' bytes accumulate in ``dest.part`` in plan order, so an interrupted
    fetch resumes; ``dest.part.json`` remembers which remote header they belong to.
    """
    header, data_start, stamp = _remote_header(src.url, timeout)
    plan = _conv_plan(header, data_start, partial)
    runs = _runs(plan)
    part = dest.with_name(dest.name + ".part")
    state = dest.with_name(dest.name + ".part.json")
    if not state.is_file() or state.read_text() != stamp:
        part.unlink(missing_ok=True)
        state.write_text(stamp)
    _fetch_runs(src.url, runs, part, progress, timeout)
    blob = part.read_bytes()
    if len(blob) != sum(e - s for s, e in runs):
        raise InputError(f"download of {src.name} is incomplete", "run the command again: it resumes.")
    params = params_from_torch(_tensors_in(blob, plan, runs, header, src.url), partial=partial)
    meta = metadata_for(CONVENTIONS[src.convention], src.convention, source=src.name, source_url=src.url)
    tmp = dest.with_name(dest.name + ".tmp")
    write_safetensors(tmp, export_tensors(params), meta)
    os.replace(tmp, dest)
    part.unlink()
    state.unlink()


def _remote_header(url: str, timeout: float) -> tuple[dict[str, dict], int, str]:
    """(tensor entries, data start, stamp) of a remote safetensors file. The stamp
    names the header, so that bytes fetched against another one are not resumed."""
    (n,) = struct.unpack("<Q", _fetch_range(url, 0, 7, timeout))
    if n > MAX_HEADER:
        raise InputError(f"{url} is not a safetensors file")
    head = _fetch_range(url, 0, 8 + n - 1, timeout)
    header, _, data_start = parse_safetensors_header(head, url)
    return header, data_start, json.dumps({"url": url, "header": hashlib.sha256(head).hexdigest()})


def _fetch_runs(
    url: str, runs: Sequence[tuple[int, int]], part: Path, progress: Optional[ProgressFn], timeout: float
) -> None:
    """Append the bytes of ``runs``, in order, to ``part``, after what it already holds."""
    total = sum(e - s for s, e in runs)
    have = part.stat().st_size if part.exists() else 0
    if have > total:
        part.unlink()
        have = 0
    done = 0
    with open(part, "ab") as out:
        if progress:
            progress(have, total)
        for start, end in runs:
            length = end - start
            if done + length <= have:
                done += length
                continue
            skip = max(0, have - done)
            pos = start + skip
            while pos < end:  # in pieces, so progress moves and memory stays small
                stop = min(end, pos + (8 << 20))
                out.write(_fetch_range(url, pos, stop - 1, timeout))
                out.flush()
                have += stop - pos
                pos = stop
                if progress:
                    progress(have, total)
            done += length


def _tensors_in(
    blob: bytes, plan: Sequence[_Planned], runs: Sequence[tuple[int, int]], header: Mapping[str, Mapping[str, Any]],
    what: str,
) -> dict[str, Any]:
    """The planned tensors, rebuilt from the runs' bytes laid end to end in ``blob``."""
    tensors, offset = {}, 0
    positions = {}
    for start, end in runs:
        positions[start] = offset
        offset += end - start
    run_of = {}
    for start, end in runs:
        for item in plan:
            if start <= item.start and item.end <= end:
                run_of[item.name] = positions[start] + item.start - start
    for item in plan:
        at = run_of[item.name]
        tensors[item.name] = decode_tensor(item.name, header[item.name], blob[at : at + item.end - item.start], what)
    return tensors
