"""``python -m oracle.cli``: the same as the ``risk-oracle`` script."""

from oracle.cli import app

app()
