"""What ``doodle paint`` (and each painting of ``doodle batch``) stamps into its
image: the provenance record (:mod:`doodle.run.provenance`) of this run, as the image's
text fields."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from doodle.plan.options import Options

if TYPE_CHECKING:  # the annotation only: doodle.core.problem imports JAX
    from doodle.core.problem import Problem


def effective(options: Options, problem: "Problem", random_seed: int) -> Options:
    """The options a painting is painted with and records: the random seed drawn and
    the output size filled in (``--output-size`` as painted)."""
    return options.replace(random_seed=random_seed, output_size=(problem.size[1], problem.size[0]))


def input_records(inputs: Mapping[str, Any], options: Options) -> list[dict]:
    """Each input file's record (size, sha256), taken before painting: a file that
    changes during a long painting is recorded as it was read."""
    from doodle.run import provenance

    return [provenance.file_record(role, path) for role, path in provenance.input_paths(inputs, options.painting.seed)]


def fields(device: str, options: Options, files: Sequence[dict], extractor: Any,
           phases: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The text fields of a finished painting on ``device`` (:func:`doodle.run.render.device_name`).
    ``options``: the effective ones (the
    random seed and size filled in); ``--weights auto`` is recorded as what it found.
    No seconds: the same run must write the same bytes (they are in --log-json)."""
    import jax

    from doodle import __version__, weights
    from doodle.run import provenance

    weights_file = weights.weights_file(options.painting.weights)
    options = recorded(options)
    record = provenance.build(
        version=__version__, jax_version=jax.__version__, device=device,
        extractor=provenance.extractor_record(extractor.name, weights_file), options=options.flat(),
        inputs=files, phases=phases)
    return provenance.to_fields(record)


def recorded(options: Options) -> Options:
    """The options as a painting records them: ``--weights auto`` as what it found,
    so that a repainting finds the same."""
    from doodle import weights
    from doodle.weights import packaged

    if options.painting.weights != "auto":
        return options
    weights_file = weights.weights_file(options.painting.weights)
    if weights_file is None:
        return options.replace(weights="builtin")
    # The shipped VGG16 by its name, not its path: the record then repaints on any install.
    return options.replace(weights=packaged.NAME if weights_file == packaged.FILE else str(weights_file))
