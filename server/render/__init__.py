"""Rendering of authored and learner text: Markdown, math (MathML) and code."""
