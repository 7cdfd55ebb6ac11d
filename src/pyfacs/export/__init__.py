"""Exports that check themselves."""
