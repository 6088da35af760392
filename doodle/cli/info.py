"""``doodle info PAINTING``: how a painting was made (its provenance), and the
``doodle paint`` command that repaints it."""
from __future__ import annotations

import json
import shlex
from typing import Any, Mapping

import click

from doodle.cli import like
from doodle.cli.errors import reports_errors


@click.command("info", short_help="How PAINTING was made (its provenance), and the command that repaints it.")
@click.argument("painting")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON (with the command as \"command\").")
@reports_errors
def info_command(painting: str, as_json: bool) -> None:
    """How PAINTING was made: doodle's version, the extractor, every option, the
    random seed, each input's size and sha256, each phase's loss; and the
    `doodle paint` command that repaints it (`doodle paint --like PAINTING` does)."""
    record = like.read_record(painting)
    command = "doodle paint " + shlex.join(like.arguments(record) + ["-o", like.repainted_name(painting)])
    if as_json:
        click.echo(json.dumps(dict(record, command=command), indent=2, sort_keys=True))
    else:
        click.echo(table(painting, record, command))


def table(painting: str, record: Mapping[str, Any], command: str) -> str:
    """The record as aligned "what  value" lines."""
    extractor = record.get("extractor") or {}
    timing = record.get("timing") or {}
    seconds = list(timing.get("phases") or [])
    rows = [("painting", painting),
            ("made by", f"doodle {record.get('doodle')}, jax {record.get('jax')}, on {record.get('device')}"),
            ("extractor", extractor.get("name", "?") + (f" ({extractor['file']}, sha256 {extractor['sha256']})"
                                                        if "file" in extractor else "")),
            ("random seed", str(record.get("random_seed")))]
    for item in record["inputs"]:
        pixels = "×".join(map(str, item["pixels"])) if item.get("pixels") else "?"
        rows.append((f"input {item['role']}", f"{item['path']}  {pixels}  {item['bytes']} bytes  "
                                              f"sha256 {item['sha256']}"))
    for i, phase in enumerate(record.get("phases") or []):
        size = "×".join(map(str, phase.get("size") or []))
        if phase.get("skipped"):
            rows.append((f"phase {phase.get('phase')}", f"{size}  skipped"))
            continue
        took = f"  {seconds[i]:.1f}s" if i < len(seconds) and seconds[i] is not None else ""
        loss = phase.get("loss")
        rows.append((f"phase {phase.get('phase')}", f"{size}  {phase.get('iterations')} evaluations  "
                                                   f"loss {'?' if loss is None else f'{loss:.6g}'}{took}"))
    if timing.get("seconds") is not None:
        rows.append(("took", f"{timing['seconds']:.1f}s"))
    for name, value in record["options"].items():
        rows.append((f"option {name}", json.dumps(value)))
    rows.append(("repaint", command))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
