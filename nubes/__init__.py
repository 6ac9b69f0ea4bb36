"""nubes: AWS on your own machine, in one Python process."""

__version__ = "0.1.0"
