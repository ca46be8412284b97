"""What the coordinator and the deploy gate share: settings, AWS clients, retries, the ledger and the health rules.

Packaged next to each function's ``handler.py`` (the archive root is on
``sys.path`` in Lambda), so both functions judge health with the same code.
Standard library and boto3 only.
"""
