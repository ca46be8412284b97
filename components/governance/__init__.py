"""Release governance: security scans, release news, who may approve a release and who watches the approvers."""
