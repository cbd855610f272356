"""Per-kind defaults: the open question, the evidence to inspect and what would resolve it.

A concept's own ``research`` (front matter) wins over these; the concept default is the
seed's research room, with the concept's title and source ids filled in.
"""

from __future__ import annotations

import re

from server.tutor.prompt import Research

OPENING = "I am working in {site}'s research reading room."
ANSWER_AS = (
    "Answer as a careful research tutor: stay source-grounded, separate verified evidence from "
    "assumptions, name the relevant math objects, and end with one next action."
)
UNSETTLED = (
    "If this evidence does not settle the question, say so plainly, name what is missing, and "
    "do not fill the gap with claims the evidence does not support."
)

# Which "Evidence to inspect" line an object of each kind is shown under: the first line
# that mentions one of these words (whole words, plurals too, case-insensitive).
LINE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "source": ("source",),
    "concept": ("concept link", "concept page", "linked concept", "prerequisite", "contrast"),
    "equation": ("equation", "math"),
    "witness": ("code", "witness"),
    "demo": ("demo",),
    "claim": ("claim", "review"),
    "misconception": ("misconception", "wrong belief"),
}
# Lines added (grounded mode) for evidence no authored line asks for, in this order.
EXTRA_LINES: dict[str, str] = {
    "concept": "Linked concepts",
    "source": "Sources",
    "equation": "Equations on the concept page",
    "witness": "Code witnesses and their last runs",
    "demo": "Demo states",
    "claim": "Claims with their review verdicts and locators",
    "misconception": "Known misconceptions",
}
_PATTERNS = {
    kind: re.compile("|".join(rf"\b{re.escape(word)}(?:s|es)?\b" for word in words), re.IGNORECASE)
    for kind, words in LINE_KEYWORDS.items()
}


def line_asks_for(line: str, kind: str) -> bool:
    return _PATTERNS[kind].search(line) is not None


def sources_line(source_ids: tuple[str, ...]) -> str:
    if not source_ids:
        return "Source ids to inspect: none listed yet"
    return "Source ids to inspect: " + ", ".join(source_ids)


def first_sentence(text: str, limit: int = 160) -> str:
    """The first sentence of ``text``, cut at a word boundary when longer than ``limit``."""
    text = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", text)
    sentence = text[: match.start()] if match else text
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _quoted(text: str) -> str:
    return '"' + first_sentence(text).rstrip(".") + '"'


def default_research(kind: str, title: str, source_ids: tuple[str, ...]) -> Research:
    """The defaults for an object of ``kind`` titled ``title``."""
    sources = sources_line(source_ids)
    if kind == "concept":
        return Research(
            f"What is the smallest example that makes {title} click without losing the math?",
            (
                sources,
                "Definition, prerequisite, and contrast concept links",
                "The equation or code witness that makes the concept operational",
                "One demo state that shows the invariant instead of a slogan",
            ),
            (
                "The learner can state the mechanism in their own words",
                "The learner can name the prerequisite that would repair confusion",
                "The learner can predict how the mechanism changes under one perturbation",
            ),
        )
    if kind == "equation":
        return Research(
            f"What does {title} say term by term, and why does each term belong there?",
            (
                sources,
                "The code witness that computes it",
                "One demo state that makes each term visible",
                "Claims and misconceptions that depend on it",
                "Other equations on the same concept page",
            ),
            (
                "The learner can say what each symbol means and where it comes from",
                "The learner can derive it from its assumptions, or name the step they cannot",
                "The learner can compute one case by hand and match the code witness",
            ),
        )
    if kind == "witness":
        return Research(
            "Does this code witness demonstrate what it claims, and what does its last run show?",
            (
                "The equation it mirrors",
                "One demo state that shows the same computation",
                sources,
                "Claims the code makes operational",
            ),
            (
                "The learner can map each line of the code to a symbol in the math",
                "The learner can predict the printed output before running it",
                "The learner can name the check that would fail under one change to the code",
            ),
        )
    if kind == "source":
        return Research(
            f"What exactly does {title} ground here, and where in the source does it say so?",
            (
                "Concept pages it grounds, and what it grounds on each",
                "Claims that cite it, with their locators and review verdicts",
            ),
            (
                "The learner can point to the section, equation or page that carries each claim",
                "The learner can say what the source does not justify",
                "Every locator cited from it has been read at that place",
            ),
        )
    if kind == "claim":
        return Research(
            "Does the cited source support this claim as stated, and where exactly?",
            (
                sources,
                "The equation, code witness or demo state that makes the claim operational",
                "Misconceptions the claim exposes",
            ),
            (
                "Each locator has been read at that place and says what the claim says",
                "The claim's scope and caveats can be stated in one sentence",
                "A substantive verdict (supported, partial, unsupported or contested) can be "
                "justified from the source text",
            ),
        )
    if kind == "misconception":
        return Research(
            f"Why is the belief {_quoted(title)} wrong, and what exposes it?",
            (
                "The claim or demo state that exposes it",
                "The equation that contradicts it",
                "The code witness that shows the correct behaviour",
                sources,
            ),
            (
                "The learner can say why the belief is tempting",
                "The learner can predict what the exposing claim or demo state shows",
                "The learner can state the correct belief in their own words",
            ),
        )
    if kind == "demo":
        return Research(
            f"What should become visible in the demo state {_quoted(title)}, and why?",
            (
                "The equation whose terms it draws",
                "The code witness that computes the same quantities",
                "Misconceptions it exposes",
                sources,
            ),
            (
                "The learner predicts the visible change before looking",
                "The learner can connect the visible change to a term in the math",
                "The learner can predict what changing one control would do",
            ),
        )
    raise ValueError(f"no prompt defaults for kind '{kind}'")
