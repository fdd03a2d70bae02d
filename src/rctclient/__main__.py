"""``python -m rctclient``: the command line tool."""

from .cli import main

main()
