"""omnix: self-hostable customer analytics for retailers."""

__version__ = "0.1.0"
