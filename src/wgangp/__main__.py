"""``python -m wgangp``: the same program as the ``wgangp`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
