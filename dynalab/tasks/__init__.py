"""ML task definitions and the TaskIO object handlers use (standard library only)."""
