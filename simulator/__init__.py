"""isc-sim: a discrete-event simulator of inter-service communication."""

__version__ = "0.1.0"
