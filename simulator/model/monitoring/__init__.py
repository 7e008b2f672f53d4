"""Monitoring of the running system, as a subsystem of a request-level run (see model.py):
SLIs from what requests saw, alert rules (rules.py), and alerts that page people who act
on the runtime."""

from .model import MonitoringModel

__all__ = ["MonitoringModel"]
