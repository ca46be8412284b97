"""Release-day simulation of the coordination functions (``make simulate``)."""
