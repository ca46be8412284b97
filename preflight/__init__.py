"""Checks, with the tooling account's credentials, that a stack's environment accounts are ready for `pulumi up`."""
