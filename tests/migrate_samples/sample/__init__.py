"""A small asyncio code base for the migration tool's tests: several import styles at once."""
