"""doodle batch --ray on a real local Ray cluster: two nodes on this machine
(``ray.cluster_utils.Cluster``, one CPU each), shared by the tests of this file.

Skipped only when the ``ray`` extra is not installed; ``.ci/run`` installs it.
"""
import json
from pathlib import Path

import imageio.v3 as iio
import pytest
from click.testing import CliRunner

from doodle import cli
from doodle.batch import PAINTED, InProcess, Ray, paint_many

from images import swapped_doodle, write_inputs
from test_batch import QUICK, paint_flags, same_as_paint

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[test,ray]'")
pytestmark = pytest.mark.slow  # a real Ray cluster


@pytest.fixture(scope="module")
def cluster():
    """(the cluster, its second node): a head node and one more, one CPU each."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    second = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level="error", log_to_driver=False)
    yield c, second
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = write_inputs(tmp_path_factory.mktemp("ray"))
    other = swapped_doodle(32)
    other[:10] = (255, 0, 0)
    iio.imwrite(d / "other_sem.png", other)
    return d


def jobs_of(folder, out, options=QUICK, seeds=(1, 2, 3)):
    out.mkdir(exist_ok=True)
    return [{"style": str(folder / "style.png"), "map": str(folder / ("doodle_sem.png" if s % 2 else "other_sem.png")),
             "output": str(out / f"{s}.png"), "random_seed": s, **options} for s in seeds]


def test_ray_paints_what_paint_paints(cluster, folder):
    c, _ = cluster
    jobs = jobs_of(folder, folder / "ray")
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    result = CliRunner().invoke(cli.main, ["batch", str(folder / "jobs.jsonl"), "--ray", c.address,
                                           "--no-compile-cache", "--log-json", "-"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    painted = [r for r in records if r["event"] == "job"]
    assert [r["status"] for r in painted] == [PAINTED] * 3
    assert len({r["worker"] for r in painted}) == 2  # both nodes painted
    for job in jobs:
        out = folder / f"paint-{Path(job['output']).name}"
        assert CliRunner().invoke(cli.main, ["paint", *paint_flags(dict(job, output=out))]).exit_code == 0
        assert same_as_paint(Path(job["output"]), out.read_bytes()), job["output"]


def test_a_node_removed_mid_batch(cluster, folder):
    # The last test here: it takes the second node away.
    c, second = cluster
    slow = dict(QUICK, iterations=150)
    jobs = jobs_of(folder, folder / "removed", slow, seeds=(1, 2, 3, 4))
    removed = []

    def progress(p):
        if p.last is not None and not removed:
            c.remove_node(second)  # while the other node's painting is under way
            removed.append(p.last.worker)

    # shared_out: the workers write the paintings (a local cluster shares this folder).
    results = paint_many(jobs, Ray(shared_out=True), progress=progress)
    assert removed and [r.status for r in results] == [PAINTED] * 4, results
    assert sorted(r.index for r in results) == [0, 1, 2, 3]  # each job once
    reference = jobs_of(folder, folder / "reference", slow, seeds=(1, 2, 3, 4))
    assert [r.status for r in paint_many(reference, InProcess())] == [PAINTED] * 4
    for job, ref in zip(jobs, reference):
        assert same_as_paint(Path(job["output"]), Path(ref["output"]).read_bytes())
