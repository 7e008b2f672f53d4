"""The organisation and its delivery process, as a subsystem of a run (see model.py)."""

from .model import DeliveryModel

__all__ = ["DeliveryModel"]
