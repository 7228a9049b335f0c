"""paydue: invoice payment collection platform."""

__version__ = "0.1.0"
