"""The engine: random streams and recorders that every model shares."""

from .recorder import EventLog, RequestLog, Samples, SpanLog
from .rng import RandomStreams

__all__ = ["EventLog", "RandomStreams", "RequestLog", "Samples", "SpanLog"]
