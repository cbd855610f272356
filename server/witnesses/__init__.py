"""Code witnesses: the sandbox that runs them, their checks, and their run records."""
