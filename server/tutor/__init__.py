"""Grounded tutor-handoff prompts for any object (DESIGN.md section 4).

``evidence`` gathers what the store knows about an object (cached per store fingerprint),
``builder`` turns it into a ``Prompt`` without touching the store, ``formats`` renders a
prompt as text, Markdown or JSON, and ``service`` ties the three together for the API and
the ``readingroom prompt`` command.
"""
