"""Learner notes: one note, one next action and a checklist per (learner, object key)."""
