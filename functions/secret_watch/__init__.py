"""The daily watch of rotation-exempt secrets (a package in tests; top-level modules in Lambda)."""
