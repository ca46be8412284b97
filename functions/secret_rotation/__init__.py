"""Secrets Manager rotation function (imported as a package in tests; top-level modules in Lambda)."""
