"""The flags of ``doodle paint`` and ``doodle plan``, built from :mod:`doodle.plan.options`.

Each field of the Options dataclasses is the flag ``--field-name`` (its flat name,
``_`` as ``-``), with the field's default and its ``metadata["help"]`` as help. The
field's type gives click's: a float, a whole number, text, or for a boolean a flag
(with an "off" spelling where :data:`OFF_FLAGS` names one). The fields click cannot
parse are taken as text and parsed here (:data:`TEXT`), after click, so that a bad
value is ``doodle: error: …`` and exit 2, as every other bad input is.

The flags that name files (``--style``, ``--map``, ``-o``…) are no Options fields:
they are declared here by hand (:func:`inputs`).
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable, Collection, Mapping, Optional

import click

from doodle.errors import OptionError
from doodle.plan.options import CONCERN_OF, CONCERNS, DEVICES, FINISHES, LIBRARY_ONLY, RELEASE, REMAT, Options
from doodle.plan.text import TEXT, number_text

# Boolean fields whose flag has an "off" spelling besides its name.
OFF_FLAGS = {"cache": "--no-cache", "propagate": "--exhaustive", "hard_labels": "--soft-labels",
             "metadata": "--no-metadata", "seamless": "--no-seamless"}
CHOICES = {"device": DEVICES, "remat": REMAT, "release_memory": RELEASE, "finish": FINISHES}


def flag_of(field: str) -> str:
    """``style_weight`` -> ``--style-weight``."""
    return "--" + field.replace("_", "-")


def flag_arguments(name: str, value: Any) -> list[str]:
    """The arguments that set field ``name`` to ``value`` (the inverse of
    :func:`options_from`); [] for a value no flag gives (None: the default's meaning)."""
    if value is None:
        return []
    if isinstance(value, bool):
        return [flag_of(name) if value else OFF_FLAGS[name]]
    if name in TEXT:
        return [flag_of(name), TEXT[name].show(value)]
    return [flag_of(name), number_text(value) if isinstance(value, float) else str(value)]


def _click_type(hint: Any) -> type:
    """float, int or str for a field's type (``Optional[X]`` as X)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) is typing.Union and len(args) == 1 else hint
    if base not in (float, int, str):
        raise TypeError(f"no click type for {hint!r}: add the field to TEXT")
    return base


def field_option(field: dataclasses.Field, hint: Any) -> Callable:
    """The click option of one Options field."""
    flag, name = flag_of(field.name), field.name
    kw: dict[str, Any] = {"default": field.default, "show_default": True, "help": field.metadata["help"]}
    if hint is bool:
        return click.option(f"{flag}/{OFF_FLAGS[name]}" if name in OFF_FLAGS else flag, name, is_flag=True, **kw)
    if name in TEXT:
        text = TEXT[name]
        kw.update(type=str, metavar=text.metavar, default=None if field.default is None else text.show(field.default))
    else:
        kw["type"] = click.Choice(CHOICES[name]) if name in CHOICES else _click_type(hint)
    return click.option(flag, name, **kw)


def concern_options(concern: str) -> list[Callable]:
    """The click options of every field of one concern that has a flag, in field order."""
    cls = CONCERNS[concern]
    hints = typing.get_type_hints(cls)
    return [field_option(f, hints[f.name]) for f in dataclasses.fields(cls) if f.name not in LIBRARY_ONLY]


def inputs(style_required: bool = True) -> list[Callable]:
    """The inputs and output of a painting, before the Options flags (``paint --like``
    takes its styles from a painting, so there --style is not required)."""
    return [
        click.option("--style", "style", required=style_required, multiple=True,
                     help="Style painting (its map: NAME_sem.png beside it), or a style pack's name. "
                     "Repeat to pool the patches of several styles."),
        click.option("--style-map", multiple=True,
                     help="The style's semantic map, if not beside it; with several --style, one each, in order."),
        click.option("--content", help="Content image for style transfer."),
        click.option("--map", "target_map",
                     help="The doodle, or the content's map; default: beside --content or --output."),
        click.option("--output", "-o", default="output.png", show_default=True,
                     help="Output image; '-' writes PNG to stdout."),
    ]


def _apply(options: list[Callable], f: Callable) -> Callable:
    for option in reversed(options):  # so that --help lists them in this order
        f = option(f)
    return f


def paint_options(f: Optional[Callable] = None, *, style_required: bool = True) -> Callable:
    """The flags ``paint`` and ``plan`` share: the inputs, then every painting and
    resource field's. ``@paint_options`` or ``@paint_options(style_required=False)``."""
    def apply(f: Callable) -> Callable:
        return _apply(inputs(style_required) + concern_options("painting") + concern_options("resources"), f)

    return apply if f is None else apply(f)


def reporting_options(f: Callable) -> Callable:
    """The reporting fields' flags (``paint`` only: ``plan`` paints nothing)."""
    return _apply(concern_options("reporting"), f)


def defaulted(kw: Mapping[str, Any]) -> set[str]:
    """The names of the current command's arguments left at their defaults."""
    ctx = click.get_current_context()
    return {k for k in kw if ctx.get_parameter_source(k) == click.core.ParameterSource.DEFAULT}


def options_from(kw: Mapping[str, Any]) -> Options:
    """The Options of a command's arguments: each field it has a flag for, parsed
    (InputError naming the flag); the others at their defaults."""
    values = {}
    for name in CONCERN_OF:
        if name in kw:
            value = kw[name]
            values[name] = TEXT[name].parse(value, flag_of(name)) if name in TEXT and value is not None else value
    return Options.of(**values)


def prepare(kw: Mapping[str, Any], defaults: Collection[str], output: Optional[str], notice=lambda s: None):
    """:func:`doodle.run.api.prepare` for the arguments of ``paint`` or ``plan`` (the same
    for both, so both accept the same inputs); errors name the flag, not the field."""
    from doodle.run import api

    options = options_from(kw)
    try:
        return api.prepare(kw["style"], style_map=kw["style_map"] or None, content=kw["content"],
                           target_map=kw["target_map"], options=options, output=output, unset=defaults,
                           notice=notice)
    except OptionError as e:
        raise e.as_flag() from None
