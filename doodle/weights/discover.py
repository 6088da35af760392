"""Pretrained VGG16 and VGG19 files already on the machine: in doodle's own cache,
and where torch hub, Keras and the Hugging Face hub keep what they downloaded.

Files found in another library's cache are used where they are, never copied
(doodle reads them in place; an HF snapshot's symlink is followed to its blob).
Each is checked against what its publisher gives: torch hub's sha256 prefix in the
file name, Keras' md5, the sha256 an HF blob is named by. Hashing a 500 MB file
takes seconds, so digests are remembered in doodle's cache folder
(:data:`MEMO_NAME`) by path, size and modification time; a changed file is hashed
again. A file whose check fails is listed as failing and never taken by
``--weights auto``; one with no published check is taken, its sha256 shown.

Where each library keeps its files, as the library itself decides it:

* torch hub: ``$TORCH_HOME``, else ``$XDG_CACHE_HOME/torch``, else
  ``~/.cache/torch``; files in ``hub/checkpoints/``.
* Keras (``keras.utils.get_file``): ``$KERAS_HOME``, else ``~/.keras``; files in
  ``models/``. Keras itself falls back to ``/tmp/.keras`` when that folder is not
  writable, and so does the search.
* Hugging Face hub: ``$HF_HUB_CACHE`` (formerly ``$HUGGINGFACE_HUB_CACHE``), else
  ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
  ``~/.cache/huggingface/hub``; a file in
  ``models--ORG--NAME/snapshots/<revision>/FILE`` (``refs/main`` names the revision).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from doodle.io.cache import cache_dir
from doodle.weights.catalog import Source, auto_rank, file_digests, known_files, verify
from doodle.weights.layout import PathLike
from doodle.weights.store import cached_files

Notice = Callable[[str], None]

# Where the remembered digests live, in doodle's cache folder.
MEMO_NAME = "checked-files.json"
MEMO_VERSION = 1

# Check outcomes (Found.status).
OK = "ok"  # the publisher's check passed
FAILED = "failed"  # it did not: never used by --weights auto
UNCHECKED = "unchecked"  # no published check: used, its sha256 shown
DOWNLOADED = "downloaded"  # in doodle's cache: checked when downloaded or imported
UNUSABLE = "unusable"  # another network (batch-normalised VGG, VGG11/13)

PLACES = {"doodle": "doodle's cache", "torch": "torch hub", "keras": "Keras", "huggingface": "Hugging Face hub"}

# torch hub's file names: "<name>-<first hex digits of the sha256>.<ext>".
_HUB_NAME = re.compile(r"^(?P<stem>vgg\d+(?:_bn)?)-(?P<prefix>[0-9a-f]{8,64})\.pth$")
_HF_REPO = re.compile(r"^https://huggingface\.co/(?P<repo>[^/]+/[^/]+)/resolve/[^/]+/(?P<file>.+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class Found:
    """A weight file on the machine, where it was found and how it checked."""

    path: Path  # as found (an HF snapshot entry is usually a symlink into blobs/)
    place: str  # key of PLACES
    source: Optional[Source]  # the known file it is; None for one doodle only recognises
    arch: Optional[str]  # "vgg16", "vgg19" (an unusable file's may be another: "vgg19_bn"); None: unknown
    size: int
    status: str  # OK, FAILED, UNCHECKED, DOWNLOADED or UNUSABLE
    detail: str = ""  # what passed, the problem, or why it cannot be used
    sha256: Optional[str] = None  # when it was hashed
    rank: tuple[int, int, int] = (0, 0, 0)  # catalog.auto_rank: smaller is preferred

    @property
    def name(self) -> str:
        """What the file is called in listings and logs: its source's name, else its own."""
        return self.source.name if self.source else self.path.name

    @property
    def usable(self) -> bool:
        """Whether ``--weights auto`` may take it."""
        return self.status in (OK, UNCHECKED, DOWNLOADED)

    @property
    def convention(self) -> Optional[str]:
        """The convention to read it with (None: the file, or its format, says)."""
        return self.source.convention if self.source else None

    @property
    def network(self) -> str:
        return self.arch.upper() if self.arch else "VGG?"

    def check_text(self) -> str:
        """The check's outcome in a few words: "sha256 prefix ok", "CHECK FAILED: …"."""
        if self.status == OK:
            return f"{self.detail} ok"
        if self.status == FAILED:
            return f"CHECK FAILED: {self.detail}"
        if self.status == UNCHECKED:
            return f"no published check, sha256 {self.sha256}"
        if self.status == DOWNLOADED:
            return "checked when downloaded" if self.source else "imported"
        return f"not usable: {self.detail}"

    def describe(self) -> str:
        """One line for a run's log, e.g. "torchvision-vgg16 VGG16 (found in
        ~/.cache/torch/hub/checkpoints, sha256 prefix ok)"."""
        folder = shorten(self.path.parent)
        if self.place == "doodle":
            return f"{self.name} {self.network} (in doodle's cache {folder})"
        sha256 = (self.sha256 or "")[:12]
        check = f"{self.detail} ok" if self.status == OK else f"no published check, sha256 {sha256}…"
        return f"{self.name} {self.network} (found in {folder}, {check})"

    def as_dict(self) -> dict:
        return {"name": self.name, "network": self.arch, "place": self.place, "path": str(self.path),
                "real_path": str(self.path.resolve()), "size": self.size, "status": self.status,
                "check": self.check_text(), "sha256": self.sha256, "usable": self.usable,
                "source": self.source.name if self.source else None}


def shorten(path: PathLike, env: Optional[Mapping[str, str]] = None) -> str:
    """``path`` with the home folder written ``~`` (for display)."""
    env = os.environ if env is None else env
    text, home = str(path), env.get("HOME") or str(Path.home())
    home = home.rstrip(os.sep)
    if home and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home):]
    return text


# ---------------------------------------------------------------------------------
# Where the libraries keep their files
# ---------------------------------------------------------------------------------


def _expand(path: str, env: Mapping[str, str]) -> Path:
    """``~`` expanded against ``env``'s HOME (as os.path.expanduser does against the process's)."""
    if path == "~" or path.startswith("~" + os.sep):
        home = env.get("HOME") or str(Path.home())
        path = home + path[1:]
    return Path(path)


def _set(env: Mapping[str, str], name: str) -> Optional[str]:
    # An empty variable counts as unset: the libraries would take "" as a folder
    # relative to wherever doodle runs, never where they downloaded to.
    return env.get(name) or None


def _xdg_cache(env: Mapping[str, str]) -> str:
    return _set(env, "XDG_CACHE_HOME") or os.path.join("~", ".cache")


def torch_checkpoints(env: Optional[Mapping[str, str]] = None) -> Path:
    """torch hub's ``hub/checkpoints`` (``torch.hub.get_dir()``, without ``set_dir``)."""
    env = os.environ if env is None else env
    home = _set(env, "TORCH_HOME") or os.path.join(_xdg_cache(env), "torch")
    return _expand(home, env) / "hub" / "checkpoints"


def keras_models(env: Optional[Mapping[str, str]] = None) -> list[Path]:
    """Where ``keras.utils.get_file`` puts ``cache_subdir="models"`` files: under
    ``$KERAS_HOME`` or ``~/.keras``, or ``/tmp/.keras`` when that is not writable."""
    env = os.environ if env is None else env
    base = _expand(_set(env, "KERAS_HOME") or os.path.join("~", ".keras"), env)
    folders = [base / "models"]
    if not os.access(base, os.W_OK):  # keras' own fallback (a missing folder included)
        folders.append(Path("/tmp/.keras/models"))
    return folders


def hf_hub_cache(env: Optional[Mapping[str, str]] = None) -> Path:
    """The Hugging Face hub cache (``huggingface_hub.constants.HF_HUB_CACHE``)."""
    env = os.environ if env is None else env
    hub = _set(env, "HF_HUB_CACHE") or _set(env, "HUGGINGFACE_HUB_CACHE")
    if hub is None:
        hf_home = _set(env, "HF_HOME") or os.path.join(_xdg_cache(env), "huggingface")
        hub = os.path.join(hf_home, "hub")
    return _expand(os.path.expandvars(hub), env)


# ---------------------------------------------------------------------------------
# Remembered digests
# ---------------------------------------------------------------------------------


class Memo:
    """sha256 and md5 of files by real path, valid while size and mtime stay the same."""

    def __init__(self, folder: Optional[Path]) -> None:
        self.path = folder / MEMO_NAME if folder is not None else None
        self.entries: dict[str, dict] = {}
        self.changed = False
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == MEMO_VERSION and isinstance(data.get("files"), dict):
                    self.entries = data["files"]
            except (OSError, ValueError, AttributeError):
                pass  # none yet, or unreadable: hash again

    def digests(self, path: Path, notice: Notice) -> tuple[str, str]:
        """(sha256, md5) of ``path``, hashed only when not remembered for its size and mtime."""
        real = path.resolve()
        stat = real.stat()
        key = str(real)
        entry = self.entries.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            return entry["sha256"], entry["md5"]
        if stat.st_size > 16 << 20:
            notice(f"checking {shorten(path)} ({stat.st_size / 2**20:.0f} MB), once: the result is remembered")
        sha256, md5 = file_digests(real)
        self.entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256, "md5": md5}
        self.changed = True
        return sha256, md5

    def save(self) -> None:
        """Write the memo back (atomically) if it changed; a cache that cannot keep it only costs time."""
        if not self.changed or self.path is None:
            return
        self.entries = {k: v for k, v in self.entries.items() if os.path.exists(k)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.path.parent, prefix=".checked-", delete=False) as f:
                json.dump({"version": MEMO_VERSION, "files": self.entries}, f, indent=1, sort_keys=True)
            os.replace(f.name, self.path)
            self.changed = False
        except OSError:
            pass


# ---------------------------------------------------------------------------------
# Finding
# ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Candidate:
    path: Path
    place: str
    source: Optional[Source]
    arch: Optional[str]
    index: int  # in known_files(); len(known_files()) for a file doodle only recognises
    check: Callable[[int, str, str], tuple[str, str]]  # (size, sha256, md5) -> (passed, problem)
    unusable: str = ""  # why it cannot be used, when it cannot


def _url_name(src: Source) -> str:
    return src.url.rsplit("/", 1)[-1]


def _catalog_check(src: Source) -> Callable[[int, str, str], tuple[str, str]]:
    return lambda size, sha256, md5: verify(src, size, sha256, md5)


def _prefix_check(prefix: str) -> Callable[[int, str, str], tuple[str, str]]:
    """torch hub's check_hash: the file's sha256 starts with the prefix in its name."""
    def check(size: int, sha256: str, md5: str) -> tuple[str, str]:
        if sha256.startswith(prefix):
            return "sha256 prefix", ""
        return "", f"sha256 {sha256} does not start with {prefix} (the prefix in its name)"
    return check


def _blob_check(path: Path) -> Optional[Callable[[int, str, str], tuple[str, str]]]:
    """An HF cache entry's check: a large (LFS) file's blob is named by its sha256."""
    real = path.resolve()
    if real.parent.name != "blobs" or not _SHA256.match(real.name):
        return None  # a copy, not a symlink into blobs/: nothing to check against

    def check(size: int, sha256: str, md5: str) -> tuple[str, str]:
        if sha256 == real.name:
            return "sha256", ""
        return "", f"sha256 {sha256}, expected {real.name} (its Hugging Face blob name)"
    return check


def _unusable_reason(stem: str) -> str:
    """Why a VGG file doodle recognises by name is not one it can run, or ""."""
    if "_bn" in stem:
        return "a batch-normalised VGG, another network than the one doodle runs"
    if not re.match(r"^vgg(16|19)\b", stem):
        return "doodle runs VGG16 and VGG19"
    return ""


def _torch_candidates(folder: Path, known: tuple[Source, ...]) -> list[_Candidate]:
    # torch hub keeps a file under its URL's name; a torch source it does not download
    # (jcjohnson's) may still have been put there by hand, under its own name.
    by_name = {_url_name(s): (i, s) for i, s in enumerate(known) if s.kept_by == "torch" or s.format == "torch"}
    found = []
    for path in sorted(folder.glob("vgg*.pth")) if folder.is_dir() else ():
        match = _HUB_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        stem, prefix = match["stem"], match["prefix"]
        if path.name in by_name:
            i, src = by_name[path.name]
            check = _catalog_check(src) if (src.sha256 or src.sha256_prefix) else _prefix_check(prefix)
            found.append(_Candidate(path, "torch", src, src.arch, i, check))
        else:  # a torch hub VGG doodle does not know: its name still carries its check
            reason = _unusable_reason(stem)
            found.append(_Candidate(path, "torch", None, stem, len(known), _prefix_check(prefix), reason))
    return found


def _keras_candidates(folders: Iterable[Path], known: tuple[Source, ...]) -> list[_Candidate]:
    found = []
    for folder in folders:
        for i, src in enumerate(known):
            path = folder / _url_name(src)
            if src.kept_by == "keras" and path.is_file():
                found.append(_Candidate(path, "keras", src, src.arch, i, _catalog_check(src)))
    return found


def _snapshots(repo_dir: Path) -> list[Path]:
    """A repository's snapshot folders: the one ``refs/main`` names first, then the others by name."""
    folder = repo_dir / "snapshots"
    if not folder.is_dir():
        return []
    try:
        main = (repo_dir / "refs" / "main").read_text().strip()
    except OSError:
        main = ""
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: (p.name != main, p.name))


def _hf_candidates(hub: Path, known: tuple[Source, ...]) -> list[_Candidate]:
    found = []
    seen: set[Path] = set()  # two revisions may share a blob: one file
    wanted = {}
    for i, src in enumerate(known):
        match = _HF_REPO.match(src.url)
        if src.kept_by == "huggingface" and match:
            wanted["models--" + match["repo"].replace("/", "--")] = (i, src, match["file"])
    # Only timm's VGG repositories: any other "vgg" name could be any network.
    for repo_dir in sorted(hub.glob("models--timm--vgg*")) if hub.is_dir() else ():
        if repo_dir.name in wanted:
            i, src, file = wanted[repo_dir.name]
            for snapshot in _snapshots(repo_dir):
                path = snapshot / file
                if path.is_file() and path.resolve() not in seen:
                    seen.add(path.resolve())
                    check = _blob_check(path)
                    found.append(_Candidate(path, "huggingface", src, src.arch, i,
                                            check or (lambda size, sha256, md5: ("", ""))))
            continue
        stem = repo_dir.name.split("--")[-1].split(".")[0]
        reason = _unusable_reason(stem)
        if reason:  # listed so that it is clear why it is not taken
            for snapshot in _snapshots(repo_dir)[:1]:
                for path in sorted(snapshot.glob("*.safetensors")) + sorted(snapshot.glob("*.bin")):
                    found.append(_Candidate(path, "huggingface", None, stem, len(known),
                                            lambda size, sha256, md5: ("", ""), reason))
    return found


def _doodle_candidates(cache: Path, known: tuple[Source, ...]) -> list[Found]:
    found = []
    for path, src in cached_files(cache):
        arch = src.arch if src else _imported_arch(path)
        index = known.index(src) if src in known else len(known)
        found.append(Found(path, "doodle", src, arch, path.stat().st_size, DOWNLOADED,
                           rank=auto_rank(src.arch if src else None, index, True)))
    return found


def _imported_arch(path: Path) -> Optional[str]:
    """The network of an imported file in doodle's layout, from its header (None if unreadable)."""
    from doodle.weights.safetensors import MAX_HEADER, parse_safetensors_header

    try:
        with open(path, "rb") as f:
            head = f.read(8)
            length = int.from_bytes(head, "little")
            head += f.read(min(length, MAX_HEADER))
        tensors = parse_safetensors_header(head, path.name)[0]
    except Exception:  # damaged or not safetensors: reading it will say so
        return None
    return "vgg19" if any(f"conv{b}_4.kernel" in tensors for b in (3, 4, 5)) else "vgg16"


def _elsewhere(env: Mapping[str, str], known: tuple[Source, ...]) -> list[_Candidate]:
    return (_torch_candidates(torch_checkpoints(env), known) + _keras_candidates(keras_models(env), known)
            + _hf_candidates(hf_hub_cache(env), known))


def _checked(c: _Candidate, memo: Memo, notice: Notice) -> Found:
    """The candidate hashed (or its digests remembered) and checked."""
    size = c.path.stat().st_size
    rank = auto_rank(c.arch, c.index, False)
    if c.unusable:
        return Found(c.path, c.place, c.source, c.arch, size, UNUSABLE, c.unusable, rank=rank)
    try:
        sha256, md5 = memo.digests(c.path, notice)
    except OSError as exc:  # unreadable (permissions, a vanished blob): listed, never used
        return Found(c.path, c.place, c.source, c.arch, size, FAILED, f"cannot be read ({exc.strerror})", rank=rank)
    passed, problem = c.check(size, sha256, md5)
    status = FAILED if problem else OK if passed else UNCHECKED
    return Found(c.path, c.place, c.source, c.arch, size, status, problem or passed, sha256, rank)


def sha256_of(path: PathLike, cache: Optional[PathLike] = None) -> str:
    """The sha256 of a file, remembered like the checks' (a painting's provenance
    records its weights file's: a 500 MB file is then not hashed at every paint)."""
    memo = Memo(Path(cache) if cache is not None else cache_dir())
    try:
        return memo.digests(Path(path), lambda s: None)[0]
    finally:
        memo.save()


def source_of(path: PathLike) -> Optional[Source]:
    """The known file ``path`` is, by its name, or for a file in a Hugging Face cache
    (named "model.safetensors" in every repository) by its repository folder."""
    path = Path(path)
    for src in known_files():
        if path.name == src.filename or (src.kept_by in ("torch", "keras") and path.name == _url_name(src)):
            return src
        match = _HF_REPO.match(src.url)
        if src.kept_by == "huggingface" and match and path.name == match["file"] and \
                "models--" + match["repo"].replace("/", "--") in path.parts:
            return src
    return None


def find_all(cache: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None,
             notice: Notice = lambda s: None) -> list[Found]:
    """Every pretrained file on the machine, checked, best first for ``--weights auto``
    (unusable and failing ones included, ranked last). ``cache``: doodle's cache
    folder (where the remembered digests live too); ``env``: the environment the
    other libraries' folders are read from."""
    cache = Path(cache) if cache is not None else cache_dir()
    env = os.environ if env is None else env
    known = known_files()
    memo = Memo(cache)
    try:
        found = _doodle_candidates(cache, known) + [_checked(c, memo, notice) for c in _elsewhere(env, known)]
    finally:
        memo.save()
    return sorted(found, key=lambda f: (not f.usable, f.rank))


def choose(cache: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None,
           notice: Notice = lambda s: None) -> Optional[Found]:
    """The file ``--weights auto`` takes: the best usable one (:data:`catalog.AUTO_ORDER`),
    or None when there is none. Stops hashing at the first that passes."""
    cache = Path(cache) if cache is not None else cache_dir()
    env = os.environ if env is None else env
    known = known_files()
    doodle = _doodle_candidates(cache, known)
    others = sorted(_elsewhere(env, known), key=lambda c: auto_rank(c.arch, c.index, False))
    best_doodle = doodle[0] if doodle else None
    memo = Memo(cache)
    try:
        for c in others:
            if best_doodle is not None and best_doodle.rank <= auto_rank(c.arch, c.index, False):
                return best_doodle
            if not c.unusable:
                found = _checked(c, memo, notice)
                if found.usable:
                    return found
    finally:
        memo.save()
    return best_doodle


def copies_of(src: Source, cache: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None,
              notice: Notice = lambda s: None) -> list[Found]:
    """The copies of ``src`` found in other libraries' caches, checked, usable ones first."""
    cache = Path(cache) if cache is not None else cache_dir()
    env = os.environ if env is None else env
    memo = Memo(cache)
    try:
        found = [_checked(c, memo, notice) for c in _elsewhere(env, known_files()) if c.source == src]
    finally:
        memo.save()
    return sorted(found, key=lambda f: not f.usable)
