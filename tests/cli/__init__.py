"""Tests of the device commands of the CLI."""
