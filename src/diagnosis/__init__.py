"""Brand diagnosis: ask AI assistants about a brand, concurrently, and report what they say."""

__version__ = "0.1.0"
