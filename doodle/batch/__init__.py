"""Many paintings: ``doodle batch`` and :func:`paint_many`.

- :mod:`doodle.batch.jobs`: a job per painting, from JSON Lines or a glob.
- :mod:`doodle.batch.record`: the digest of a painting's inputs, kept beside its output.
- :mod:`doodle.batch.cache`: what one process's paintings share.
- :mod:`doodle.batch.run`: :func:`paint_many`, the in-process executor, results.
- :mod:`doodle.batch.workers`: local worker processes.
- :mod:`doodle.batch.on_ray`: a Ray cluster (the optional ``ray`` extra).

    from doodle.batch import paint_many, Workers
    results = paint_many([{"style": "meadow", "map": "a_sem.png", "output": "a.png", "random_seed": 1}],
                         executor=Workers(2))
"""
from doodle.batch.jobs import Job, JobError, glob_jobs, job_from_dict, read_jobs
from doodle.batch.on_ray import Ray
from doodle.batch.run import (FAILED, INVALID, PAINTED, SKIPPED, BatchProgress, InProcess, InvalidBatch, JobResult,
                              paint_many)
from doodle.batch.workers import Workers

__all__ = ["paint_many", "Job", "JobError", "JobResult", "BatchProgress", "InvalidBatch", "InProcess", "Workers",
           "Ray", "read_jobs", "glob_jobs", "job_from_dict", "PAINTED", "SKIPPED", "FAILED", "INVALID"]
