"""The recipe a run would resolve, for tests that call the core directly."""
from doodle.run import resolve


def recipe_for(options, problem, extractor=None, plan=None):
    """:func:`doodle.run.resolve.recipe` for ``extractor``'s kind (None: the built-in's)."""
    return resolve.recipe(options, problem, resolve.kind_of(extractor), plan)
