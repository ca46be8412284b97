"""Inter-service coordination: the deployment ledger, the coordinator, the deploy gate and the change-freeze switches.

One ``Coordination`` per stack serves the whole fleet; pipelines reach it
through ``DeployGateRule``.
"""

from .coordination import Coordination, CoordinationArgs
from .gate_rule import DeployGateRule

__all__ = ["Coordination", "CoordinationArgs", "DeployGateRule"]
