"""doodle batch and paint_many: jobs, checks, resume, in-process and --workers, byte for byte.

Every painting is the tiny case of test_scripting (a 40 px style, 32 px doodles, style
layer 1_1, two iterations), so the in-process runs share one compilation. Ray has its
own file (test_batch_ray.py).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import jax
import numpy as np
import pytest
from click.testing import CliRunner

import doodle
from doodle import cli
from doodle.batch import FAILED, INVALID, PAINTED, SKIPPED, InProcess, JobError, Workers, paint_many, read_jobs
from doodle.batch.cache import Shared, StyleMemo
from doodle.batch.jobs import INPUT_KEYS, PAINT_ONLY, RUN_ONLY, glob_jobs, option_keys

from console import default_sigint, interrupt
from images import png_chunks, swapped_doodle, write_inputs

# Enough evaluations for a difference in summation order to show in the bytes.
QUICK = {"iterations": 20, "stall_tolerance": 0, "phases": 1, "weights": "builtin", "style_layers": "1_1"}


def paint_flags(job):
    """``doodle paint`` arguments for a job (its keys as flags)."""
    flags = ["--no-compile-cache", "-q"]
    for key, value in job.items():
        flags += ["-o" if key == "output" else f"--{key.replace('_', '-')}", str(value)]
    return flags


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Inputs and a JOBS file: three good jobs (two doodles in one style, one of them in
    two phases) and a bad one (a missing doodle) among them."""
    d = write_inputs(tmp_path_factory.mktemp("batch"))
    other = swapped_doodle(32)
    other[:10] = (255, 0, 0)
    iio.imwrite(d / "other_sem.png", other)
    (d / "out").mkdir()
    jobs = [
        {"style": "style.png", "map": "doodle_sem.png", "output": "out/a.png", "random_seed": 1, **QUICK},
        {"style": "style.png", "map": "other_sem.png", "output": "out/b.png", "random_seed": 2, **QUICK},
        {"style": "style.png", "map": "missing_sem.png", "output": "out/c.png", "random_seed": 3, **QUICK},
        {"style": "style.png", "map": "other_sem.png", "output": "out/d.png", "random_seed": 4, **QUICK, "phases": 2},
    ]
    write_jobs(d / "jobs.jsonl", jobs)
    return d


def write_jobs(path, jobs):
    path.write_text("".join(json.dumps(job) + "\n" for job in jobs))
    return jobs


def batch(*args):
    """In-process ``doodle batch``: (exit code, stderr, records of --log-json -)."""
    result = CliRunner().invoke(cli.main, ["batch", *map(str, args), "--no-compile-cache", "--log-json", "-"],
                                catch_exceptions=False)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[-1]["event"] == "summary"
    return result.exit_code, result.stderr, records


def statuses(records):
    return {Path(r["output"]).name if r["output"] else r["line"]: r["status"] for r in records
            if r["event"] == "job"}


@pytest.fixture(scope="module")
def painted(folder):
    """The batch painted in this process, and each good job painted by ``doodle paint``."""
    first = batch(folder / "jobs.jsonl")
    references = {}
    for line in (folder / "jobs.jsonl").read_text().splitlines():
        job = json.loads(line)
        if "missing" in job["map"]:
            continue
        name = Path(job["output"]).name
        out = folder / f"paint-{name}"
        job = {**job, "style": str(folder / job["style"]), "map": str(folder / job["map"]), "output": str(out)}
        result = CliRunner().invoke(cli.main, ["paint", *paint_flags(job)], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        references[name] = out.read_bytes()
    return first, references


def same_as_paint(path, reference):
    """Whether a batch's painting is ``doodle paint``'s to the byte, the provenance
    record included (it must be there)."""
    data = path.read_bytes()
    assert any(kind == b"tEXt" and body.startswith(b"doodle\0") for kind, body in png_chunks(data)), path
    return data == reference


def test_in_process_batch_paints_what_paint_paints(folder, painted):
    (code, stderr, records), references = painted
    assert code == 1, stderr  # one job was invalid
    assert statuses(records) == {"a.png": PAINTED, "b.png": PAINTED, "c.png": INVALID, "d.png": PAINTED}
    for name, data in references.items():
        assert same_as_paint(folder / "out" / name, data), name
    bad = next(r for r in records if r.get("status") == INVALID)
    assert bad["line"] == 3 and bad["field"] == "map" and "does not exist" in bad["error"]
    assert "jobs.jsonl line 3" in stderr and "invalid: map:" in stderr
    summary = records[-1]
    assert (summary["painted"], summary["failed"], summary["invalid"], summary["exit_status"]) == (3, 1, 1, 1)
    assert not list((folder / "out").glob(".*.tmp"))  # outputs are written atomically


def test_rerun_skips_finished_jobs_and_repaints_changed_ones(folder, painted):
    code, _, records = batch(folder / "jobs.jsonl")
    assert statuses(records) == {"a.png": SKIPPED, "b.png": SKIPPED, "c.png": INVALID, "d.png": SKIPPED}
    jobs = [json.loads(line) for line in (folder / "jobs.jsonl").read_text().splitlines()]
    jobs[1]["iterations"] = 3  # b.png: an option changed
    jobs[3]["random_seed"] = 5  # d.png: the seed changed
    write_jobs(folder / "changed.jsonl", [j for j in jobs if "missing" not in j["map"]])
    before = (folder / "out" / "a.png").stat().st_mtime_ns
    code, _, records = batch(folder / "changed.jsonl")
    assert code == 0
    assert statuses(records) == {"a.png": SKIPPED, "b.png": PAINTED, "d.png": PAINTED}
    assert (folder / "out" / "a.png").stat().st_mtime_ns == before
    code, _, records = batch(folder / "changed.jsonl", "--force")
    assert set(statuses(records).values()) == {PAINTED}


@pytest.mark.slow
def test_workers_paint_what_paint_paints(folder, painted, tmp_path):
    _, references = painted
    jobs = [json.loads(line) for line in (folder / "jobs.jsonl").read_text().splitlines()]
    write_jobs(folder / "workers.jsonl", [dict(j, output=j["output"].replace("out/", "workers/")) for j in jobs])
    (folder / "workers").mkdir()
    code, stderr, records = batch(folder / "workers.jsonl", "--workers", "2")
    assert code == 1, stderr
    assert statuses(records) == {"a.png": PAINTED, "b.png": PAINTED, "c.png": INVALID, "d.png": PAINTED}
    assert len({r["worker"] for r in records if r.get("status") == PAINTED}) == 2  # both workers painted
    for name, data in references.items():
        assert same_as_paint(folder / "workers" / name, data), name


def test_paint_many_shares_each_style_pass(folder):
    # Two paintings of one style: the second reuses the style's pass through the network.
    jobs = [{"style": str(folder / "style.png"), "map": str(folder / m), "output": str(folder / f"api-{m}"),
             "random_seed": 1, **QUICK} for m in ("doodle_sem.png", "other_sem.png")]
    executor = InProcess()
    assert doodle.paint_many is paint_many  # the package exports it
    results = paint_many(jobs, executor=executor)
    assert [r.status for r in results] == [PAINTED, PAINTED]
    assert executor.shared.memo.misses == 1 and executor.shared.memo.hits == 1
    assert [r.status for r in paint_many(jobs, executor=executor)] == [SKIPPED, SKIPPED]


def test_style_memo_keys_by_bytes():
    memo, calls = StyleMemo(size=2), []

    def double(a, n):
        calls.append(n)
        return a * 2

    a = np.arange(6, dtype=np.uint8)
    assert (memo(double, a, 1) == a * 2).all()
    memo(double, a.copy(), 1)  # other array, same bytes: remembered
    memo(double, a + 1, 1)  # other bytes
    memo(double, a, 2)  # other argument
    assert calls == [1, 1, 2]
    memo(double, a, 1)  # the oldest entry was dropped (size 2)
    assert calls == [1, 1, 2, 1]


def test_a_failing_job_is_recorded_and_the_others_go_on(folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    good = {"style": str(folder / "style.png"), "map": str(folder / "doodle_sem.png"), "random_seed": 1, **QUICK}
    # Too small to paint at all: it passes the checks and fails when it runs.
    jobs = [dict(good, output=str(out / "tiny.png"), output_size="1x1"), dict(good, output=str(out / "ok.png"))]
    results = paint_many(jobs)
    assert [r.status for r in results] == [FAILED, PAINTED]
    assert "too small" in results[0].error and not (out / "tiny.png").exists()


def test_ctrl_c_in_process_keeps_finished_paintings(folder, tmp_path):
    jobs = [{"style": str(folder / "style.png"), "map": str(folder / "doodle_sem.png"), "random_seed": s,
             "output": str(tmp_path / f"{s}.png"), **QUICK} for s in (1, 2, 3)]

    def progress(p):
        if p.last is not None and p.last.status == PAINTED:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        paint_many(jobs, progress=progress)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["1.png", "1.png.doodle.json"]


def test_strict_refuses_a_batch_with_an_invalid_job(folder, tmp_path):
    write_jobs(tmp_path / "jobs.jsonl", [{"style": str(folder / "style.png"), "map": str(folder / "doodle_sem.png"),
                                          "output": "x.png", **QUICK}, {"style": "style.png", "output": "y.png",
                                                                        "iterations": "many"}])
    code, stderr, records = batch(tmp_path / "jobs.jsonl", "--strict")
    assert code == 2
    assert "line 2 invalid: iterations: must be a whole number" in stderr
    assert not (tmp_path / "x.png").exists() and records[-1]["exit_status"] == 2


# --- jobs ----------------------------------------------------------------------


def test_job_keys_are_paint_options():
    params = {p.name for p in cli.command("paint").params} - set(RUN_ONLY) - set(PAINT_ONLY)
    assert set(option_keys()) | set(INPUT_KEYS) == (params - {"target_map"}) | {"map"}
    # doodle batch has the same option flags, for every job that does not set its own
    assert set(option_keys()) <= {p.name for p in cli.command("batch").params}


def test_bad_jobs_name_line_field_and_reason(tmp_path):
    lines = [
        '{"style": "s.png", "output": "a.png", "iterations": 10, "output_size": "64x48", "style_layers": ["2_1"]}',
        "",
        '{"style": "s.png", "output": "b.png", "colour": 1}',
        '{"style": "s.png", "output": "c.png", "output_size": "big"}',
        '{"style": "s.png", "output": "d.png", "cache": "yes"}',
        '{"style": "s.png"}',
        '["s.png"]',
        '{"style": "s.png", "output": "e.png", "quiet": true}',
        '{"style": "s.png", "output": "f.png", "semantic_weight": -1}',
        "{oops",
    ]
    jobs = read_jobs(lines, tmp_path)
    good = jobs[0]
    assert good.output == str(tmp_path / "a.png") and good.style == (str(tmp_path / "s.png"),)
    assert good.get("output_size") == (64, 48) and good.get("style_layers") == ("2_1",)
    errors = [(j.line, j.field) for j in jobs[1:]]
    assert all(isinstance(j, JobError) for j in jobs[1:])
    assert errors == [(3, "colour"), (4, "output_size"), (5, "cache"), (6, "output"), (7, None), (8, "quiet"),
                      (9, "semantic_weight"), (10, None)]
    assert "unknown key" in jobs[1].reason and "true or false" in jobs[3].reason
    assert "between 0" in jobs[7].reason


def test_paths_resolve_against_the_jobs_folder_and_packs_stay_names(tmp_path):
    job = read_jobs(['{"style": ["meadow", "art/s.png"], "map": "d_sem.png", "output": "o.png", '
                     '"seed": "start.png", "weights": "builtin"}'], tmp_path / "jobs", out_dir=tmp_path / "out")[0]
    assert job.style == ("meadow", str(tmp_path / "jobs" / "art" / "s.png"))
    assert job.map == str(tmp_path / "jobs" / "d_sem.png") and job.output == str(tmp_path / "out" / "o.png")
    assert job.get("seed") == str(tmp_path / "jobs" / "start.png") and job.get("weights") == "builtin"


def test_option_flags_apply_to_the_jobs_that_do_not_set_them(tmp_path):
    from doodle.cli.batch import read_batch
    from doodle.cli.options import defaulted

    write_jobs(tmp_path / "jobs.jsonl", [{"style": "s.png", "output": "a.png"},
                                         {"style": "s.png", "output": "b.png", "iterations": 7}])
    command = cli.command("batch")
    with command.make_context("batch", [str(tmp_path / "jobs.jsonl"), "--iterations", "3", "--output-size",
                                        "64x48", "--no-metadata"]) as ctx:
        jobs, _ = read_batch(ctx.params, defaulted(ctx.params))
    assert [j.get("iterations") for j in jobs] == [3, 7]
    assert {j.get("output_size") for j in jobs} == {(64, 48)} and {j.get("metadata") for j in jobs} == {False}
    assert jobs[0].get("style_weight") is None  # not given: a style pack may still set it


def test_shorthand_a_job_per_doodle_and_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("b_sem.png", "a_sem.png"):
        (tmp_path / name).write_bytes(b"")
    jobs = glob_jobs(["meadow"], "*_sem.png", "out", seeds=[1, 2], defaults={"iterations": 5})
    assert [(Path(j.output).name, j.get("random_seed"), j.get("iterations")) for j in jobs] == [
        ("a-1.png", 1, 5), ("a-2.png", 2, 5), ("b-1.png", 1, 5), ("b-2.png", 2, 5)]
    assert jobs[0].style == ("meadow",) and jobs[0].map == str(tmp_path / "a_sem.png")


def test_batch_usage_errors(tmp_path, monkeypatch):
    def run(*args):
        result = CliRunner().invoke(cli.main, ["batch", *map(str, args)])
        return result.exit_code, result.stderr

    (tmp_path / "empty.jsonl").write_text("\n")
    for args, fragment in [((), "no jobs"), ((tmp_path / "nope.jsonl",), "cannot read the jobs file"),
                           ((tmp_path / "empty.jsonl",), "holds no job"),
                           ((tmp_path / "empty.jsonl", "--style", "meadow"), "not both"),
                           (("--style", "meadow", "--map", "*.png"), "needs --style, --map and --out-dir"),
                           (("--style", "meadow", "--map", str(tmp_path / "*.none"), "--out-dir", tmp_path),
                            "matches no file"),
                           ((tmp_path / "empty.jsonl", "--iterations", "0"), "--iterations must be at least 1"),
                           ((tmp_path / "empty.jsonl", "--output-size", "big"),
                            "--output-size 'big' is not WIDTHxHEIGHT"),
                           ((tmp_path / "empty.jsonl", "--workers", "2", "--ray", "auto"), "Give one of them")]:
        code, stderr = run(*args)
        assert code == 2 and fragment in stderr, (args, stderr)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    (tmp_path / "one.jsonl").write_text('{"style": "s.png", "output": "o.png"}\n')
    code, stderr = run(tmp_path / "one.jsonl", "--ray", "auto")
    assert code == 2 and "pip install" in stderr and "[ray]" in stderr


# --- local workers ---------------------------------------------------------------


def die_unless(marker):
    """A worker initializer: the first worker (no marker yet) dies, as a killed one does."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)


def die():
    os._exit(9)


@pytest.mark.slow
def test_a_dead_workers_job_is_painted_again(folder, tmp_path):
    import functools

    job = {"style": str(folder / "style.png"), "map": str(folder / "doodle_sem.png"), "random_seed": 1,
           "output": str(tmp_path / "a.png"), **QUICK}
    notices = []
    results = paint_many([job], Workers(1, functools.partial(die_unless, str(tmp_path / "died"))),
                         notice=notices.append)
    assert results[0].status == PAINTED and results[0].attempts == 2
    assert "worker died" in notices[0]
    # A worker that dies every time: the job fails after the first try and two retries.
    results = paint_many([dict(job, output=str(tmp_path / "b.png"))],
                         Workers(1, die))
    assert results[0].status == FAILED and results[0].attempts == 3 and "died on each of 3 tries" in results[0].error


@pytest.mark.slow
@pytest.mark.parametrize("where", [[], ["--workers", "1"]], ids=["in-process", "workers"])
def test_ctrl_c_stops_the_batch_and_exits_130(folder, tmp_path, where):
    # Long enough to be interrupted: many evaluations, no early stop.
    slow = dict(QUICK, iterations=400)
    write_jobs(tmp_path / "jobs.jsonl", [{"style": str(folder / "style.png"), "map": str(folder / "doodle_sem.png"),
                                          "random_seed": s, "output": f"{s}.png", **(QUICK if s == 1 else slow)}
                                         for s in (1, 2, 3, 4)])
    proc = subprocess.Popen([sys.executable, "-m", "doodle", "batch", str(tmp_path / "jobs.jsonl"), *where],
                            cwd=Path(cli.__file__).parent.parent.parent, stderr=subprocess.PIPE,
                            preexec_fn=default_sigint)
    rest = interrupt(proc, b"painted in")
    assert proc.returncode == 130, rest.decode()
    assert b"interrupted" in rest
    outputs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert "1.png" in outputs and len(outputs) < 4
    assert not list(tmp_path.glob(".*.tmp"))


def test_progress_bar_on_a_terminal_and_lines_otherwise():
    import io

    from doodle.batch import BatchProgress, JobResult
    from doodle.cli.batch import BatchReporter

    done = JobResult(0, 1, "out/a.png", PAINTED, seconds=30.0, random_seed=1)
    bad = JobResult(1, 2, "out/b.png", FAILED, error="the optimisation diverged.")
    steps = [BatchProgress(3, 0, 0, 0, 0, 0.0), BatchProgress(3, 1, 0, 0, 0, 30.0, done),
             BatchProgress(3, 1, 0, 1, 0, 31.0, bad)]
    tty, plain = io.StringIO(), io.StringIO()
    for stream, is_tty in ((tty, True), (plain, False)):
        reporter = BatchReporter(stream=stream, tty=is_tty, where="jobs.jsonl")
        for step in steps:
            reporter(step)
        reporter.finish(1, None, "in-process")
    assert "\rbatch [" in tty.getvalue() and "2.00/min" in tty.getvalue() and "ETA 1:00" in tty.getvalue()
    lines = plain.getvalue().splitlines()
    assert "\r" not in plain.getvalue() and lines[0] == "doodle: [1/3] painted in 30.0s: out/a.png (2.00/min, ETA 1:00)"
    assert lines[1] == "doodle: error: jobs.jsonl line 2 (out/b.png) failed: the optimisation diverged."
    assert lines[2].startswith("doodle: of 3 jobs 1 painted, 0 up to date, 1 failed, 0 invalid, 1 not painted")


def test_a_process_keeps_the_programs_of_a_few_sizes_only(monkeypatch):
    # Each size's compiled programs hold a few hundred MiB on a CPU: a worker painting
    # many sizes would grow without end. Sizes seen again reuse theirs.
    cleared = []
    monkeypatch.setattr(jax, "clear_caches", lambda: cleared.append(1))
    shared = Shared(program_sizes=2)
    assert [shared.programs_for(k) for k in ("a", "b", "a", "b")] == [False] * 4 and not cleared
    assert shared.programs_for("c") and cleared == [1]  # a third size: all dropped first
    assert not shared.programs_for("c") and not shared.programs_for("a") and cleared == [1]
    assert shared.programs_for("b") and cleared == [1, 1]


def test_a_batch_of_sizes_drops_programs_between_them(folder, monkeypatch):
    real, cleared = jax.clear_caches, []
    monkeypatch.setattr(jax, "clear_caches", lambda: cleared.append(1) or real())
    jobs = [{"style": str(folder / "style.png"), "map": str(folder / "doodle_sem.png"),
             "output": str(folder / f"sizes-{i}.png"), "random_seed": 1, "output_size": size, **QUICK}
            for i, size in enumerate(["32x32", "32x32", "40x32", "32x32"])]
    executor = InProcess()
    executor.shared.program_sizes = 1
    results = paint_many(jobs, executor=executor)
    assert [r.status for r in results] == [PAINTED] * 4
    assert len(cleared) == 2  # at 40x32, and at 32x32 again


def test_a_job_that_would_overwrite_its_own_input_is_invalid(folder, tmp_path):
    from doodle.batch.run import check

    style = tmp_path / "style.png"
    style.write_bytes((folder / "style.png").read_bytes())
    (tmp_path / "style_sem.png").write_bytes((folder / "style_sem.png").read_bytes())
    job = {"style": str(style), "map": str(folder / "doodle_sem.png"), "output": str(style), **QUICK}
    again = dict(job, output=str(tmp_path / "a.png"))
    tasks, early = check([job, again, dict(again, random_seed=3)])
    assert [r.status for r in early] == [INVALID, INVALID]
    assert "is an input of this painting (style)" in early[0].error
    assert "is also the output of line 2" in early[1].error
    assert len(tasks) == 1
