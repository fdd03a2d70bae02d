"""Command modules of the CLI: each one exports ``COMMANDS``, a list of click commands."""
