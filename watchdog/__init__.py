"""watchdog: an external supervisor for a Python web API."""

__version__ = "0.1.0"
