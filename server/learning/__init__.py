"""Learning paths over the concept graph: progress, plans, fringe, derived status."""
