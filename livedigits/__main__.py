"""``python -m livedigits ...``: the same command as the ``livedigits`` console script."""
import sys

from .app.cli import main

if __name__ == "__main__":
    sys.exit(main())
