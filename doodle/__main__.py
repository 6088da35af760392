"""``python -m doodle`` runs the command line."""
from doodle.cli import entry

entry()
