"""A fleet split over stacks: what a core exports and how a shard stack reads it (README: Scaling to a large fleet)."""
