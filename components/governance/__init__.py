"""Release governance: who is told about a release, who may approve it, and who watches the approvers."""
