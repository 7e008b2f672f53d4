"""Cluster scheduling: placement policies, the shared cell state, and the Omega paper's
scheduler architectures (monolithic, two-level, shared-state) on one model."""

from .model import SchedulingModel

__all__ = ["SchedulingModel"]
