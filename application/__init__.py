"""Use cases. Imports `domain` only; adapters arrive as arguments."""
