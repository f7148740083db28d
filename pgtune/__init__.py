"""pgtune: make a PostgreSQL server fast and safe."""

__version__ = "0.1.0"
