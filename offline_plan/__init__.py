"""The offline plan: the Pulumi program run under mocks, every resource recorded, the policy pack applied.

It exists because most reviewers (and every PR from a fork) have no cloud
credentials: the plan shows exactly what ``pulumi preview`` would declare and
what the policy pack thinks of it, on any machine.
"""
