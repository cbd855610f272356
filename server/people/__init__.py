"""People: the one local learner, or accounts with roles in team mode."""
