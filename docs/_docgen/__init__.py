"""Generators of the reference pages (run by hooks.py at build time); not part of govkit."""
