"""``python -m doodle`` (and the ``doodle`` console script) run the command line."""
import sys


def main() -> None:
    """Import the command line and run it; a Ctrl-C while importing (numpy, click…)
    ends like any other interruption: one line and exit 130, no traceback."""
    try:
        from doodle.cli import entry
    except KeyboardInterrupt:
        sys.stderr.write("doodle: interrupted\n")
        sys.exit(130)
    entry()


if __name__ == "__main__":
    main()
