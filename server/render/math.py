"""LaTeX -> MathML on the server, with a strict parse check.

LaTeX is an injection path: the converter's output is re-sanitised against a MathML
allow-list before it reaches a page.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from latex2mathml.converter import convert

MATHML_TAGS = {
    "math",
    "mrow",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "msub",
    "msup",
    "msubsup",
    "mfrac",
    "msqrt",
    "mroot",
    "mstyle",
    "merror",
    "mpadded",
    "mphantom",
    "mfenced",
    "menclose",
    "munder",
    "mover",
    "munderover",
    "mtable",
    "mtr",
    "mtd",
    "mlabeledtr",
    "semantics",
    "annotation",
}
MATHML_ATTRIBUTES = {
    "math": {"xmlns", "display"},
    "*": {
        "mathvariant",
        "stretchy",
        "fence",
        "separator",
        "lspace",
        "rspace",
        "minsize",
        "maxsize",
        "movablelimits",
        "accent",
        "accentunder",
        "displaystyle",
        "scriptlevel",
        "width",
        "height",
        "depth",
        "columnalign",
        "rowspacing",
        "columnspacing",
        "linethickness",
        "notation",
        "symmetric",
        "largeop",
        "form",
        "encoding",
        "columnlines",
        "rowlines",
    },
}
# Bounded work: longer or deeper LaTeX is refused before the converter sees it.
MAX_LATEX_CHARS = 5000
MAX_GROUP_DEPTH = 64
# Macro definitions (unbounded expansion) and commands that would carry links, styles or
# raw characters: refused outright rather than trusted to the sanitiser.
REFUSED_COMMANDS = frozenset(
    {
        "def", "gdef", "edef", "xdef", "let", "newcommand", "renewcommand",
        "providecommand", "DeclareMathOperator", "href", "url", "style", "class", "cssId",
        "unicode", "require", "html", "input", "include", "csname",
    }
)  # fmt: skip
# A function name is followed by a thin space, as TeX sets it, unless an argument in
# parentheses follows at once (latex2mathml leaves the space out).
_FUNCTION_NAME = re.compile(
    r"(<mi>(?:log|ln|exp|det|sin|cos|tan|sinh|cosh|tanh|arg|max|min|sup|inf|lim|dim|ker|"
    r"tr|Pr|deg)</mi>)(?!<mo[^>]*>(?:\(|&#x0*28;))"
)
THIN_SPACE = '<mspace width="0.1667em"></mspace>'
_UNKNOWN_COMMAND = re.compile(r">(\\[A-Za-z]+)<")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")


class LatexError(ValueError):
    """LaTeX that does not parse; the message says what is wrong."""


def _check_groups(latex: str) -> None:
    if len(latex) > MAX_LATEX_CHARS:
        raise LatexError(f"LaTeX longer than {MAX_LATEX_CHARS} characters")
    depth = 0
    lefts = 0
    position = 0
    while position < len(latex):
        char = latex[position]
        if char == "\\":
            match = _COMMAND.match(latex, position)
            name = match.group(1) if match else ""
            if name in REFUSED_COMMANDS:
                raise LatexError(f"\\{name} is not allowed in math")
            if name == "left":
                lefts += 1
                if depth + lefts > MAX_GROUP_DEPTH:
                    raise LatexError(f"LaTeX nested deeper than {MAX_GROUP_DEPTH} groups")
            elif name == "right":
                lefts -= 1
                if lefts < 0:
                    raise LatexError("\\right without a matching \\left")
            position += 1 + len(name)
            continue
        if char == "{":
            depth += 1
            if depth + lefts > MAX_GROUP_DEPTH:
                raise LatexError(f"LaTeX nested deeper than {MAX_GROUP_DEPTH} groups")
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise LatexError("unbalanced braces: '}' without a matching '{'")
        position += 1
    if depth:
        raise LatexError(f"unbalanced braces: {depth} '{{' not closed")
    if lefts:
        raise LatexError("\\left without a matching \\right")


@lru_cache(maxsize=4096)
def to_mathml(latex: str, display: bool = False) -> str:
    """Sanitised MathML for ``latex``; raises LatexError when it does not parse."""
    _check_groups(latex)
    try:
        mathml = convert(latex, display="block" if display else "inline")
    except Exception as error:  # the converter raises many private error types
        name = type(error).__name__
        raise LatexError(f"LaTeX does not parse ({name}): {latex!r}") from error
    unknown = _UNKNOWN_COMMAND.search(mathml)
    if unknown:
        raise LatexError(f"unknown LaTeX command {unknown.group(1)}")
    mathml = _FUNCTION_NAME.sub(lambda m: m.group(1) + THIN_SPACE, mathml)
    return nh3.clean(mathml, tags=MATHML_TAGS, attributes=MATHML_ATTRIBUTES, link_rel=None)


def latex_problem(latex: str) -> str | None:
    """The reason ``latex`` does not parse, or None."""
    try:
        to_mathml(latex)
    except LatexError as error:
        return str(error)
    return None
