"""``python -m calmesh``: the same as the ``calmesh`` command."""

from calmesh.cli import main

main()
