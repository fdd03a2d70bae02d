"""``python -m rctclient``: the command line tool."""

from ._entry import main

main()
