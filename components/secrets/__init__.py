"""Secrets the platform rotates, and the watch over those it cannot (README: Credentials)."""
