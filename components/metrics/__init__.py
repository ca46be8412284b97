"""Measuring delivery: the DORA metrics of every service in every environment, and the dashboard that shows them."""

from .dora import DoraMetrics, DoraMetricsArgs

__all__ = ["DoraMetrics", "DoraMetricsArgs"]
