"""Every equation's symbol list and its LaTeX name the same symbols.

The LaTeX of each equation is read for its identifiers (Latin and Greek letters, with their
accents, fonts and labels such as the X of p_X); every identifier must be defined by the symbol
list, and every symbol the list defines must occur in the LaTeX. A symbol entry defines the first
identifier of each of its comma-separated parts ("x_0, x_1" defines x_0 and x_1; "J_f(z)" defines
J_f, not its argument z). Operators and standard functions are the small allow-list below; a
letter bound by a sum, product or integral in the equation itself needs no entry, and a
parenthesised superscript is a tag (the (i) of x^{(i)}), not a symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.content.test_content_gate import concepts

_GREEK = (
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "pi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma "
    "Upsilon Phi Psi Omega"
)
GREEK = frozenset(_GREEK.split())
ACCENTS = frozenset({"hat", "tilde", "bar", "widehat", "widetilde", "overline", "vec", "dot"})
FONTS = frozenset({"mathbf", "mathcal", "mathbb", "boldsymbol", "mathit"})
# Operators, standard functions and constants: allowed without a symbol entry.
_OPERATORS = (
    "log ln exp det tanh sum prod int nabla partial top circ odot cdot cdots dots ldots mid sim "
    "le ge leq geq Rightarrow mapsto in infty star prime lVert rVert min max to times"
)
OPERATORS = frozenset(_OPERATORS.split())
FONT_OPERATORS = frozenset(
    {r"\mathbb{E}", r"\mathbb{1}", r"\mathbb{R}", r"\mathcal{N}", r"\mathcal{U}"}
)
NAMED_OPERATORS = frozenset({"tr", "diag", "Cov"})
ROMAN_OPERATORS = frozenset({"d", r"arg\,max", r"arg\,min"})
# Layout commands: no symbol of their own; their arguments are read as usual.
_LAYOUT = "frac tfrac dfrac sqrt left right big Big bigg Bigg quad qquad underbrace overbrace"
LAYOUT = frozenset(_LAYOUT.split())
BINDERS = frozenset({"sum", "prod"})


@dataclass(frozen=True)
class Ident:
    """One identifier: its base (a letter, a Greek letter, an accented or font letter) and label."""

    base: str
    label: str | None = None

    def __str__(self) -> str:
        return self.base if self.label is None else f"{self.base}_{self.label}"


@dataclass
class Scan:
    idents: list[Ident]
    operators: set[str]
    bound: set[Ident]
    first_operator: str | None = None


class Scanner:
    def __init__(self, latex: str) -> None:
        self.s = latex
        self.i = 0
        self.out = Scan([], set(), set())
        self.bind_next = False  # after the d of an integral: its variable is bound

    def record_operator(self, name: str) -> None:
        if self.out.first_operator is None:
            self.out.first_operator = name
        self.out.operators.add(name)

    def peek_nonspace(self) -> str:
        j = self.i
        while j < len(self.s) and self.s[j].isspace():
            j += 1
        return self.s[j] if j < len(self.s) else ""

    def skip_space(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def group(self) -> str:
        """The next braced group's text, or the next single token (a letter or a command)."""
        self.skip_space()
        if self.s[self.i] == "{":
            depth, start = 0, self.i
            while True:
                c = self.s[self.i]
                depth += c == "{"
                depth -= c == "}"
                self.i += 1
                if depth == 0:
                    return self.s[start + 1 : self.i - 1]
        if self.s[self.i] == "\\":
            start = self.i
            self.i += 1
            while self.i < len(self.s) and self.s[self.i].isalpha():
                self.i += 1
            return self.s[start : self.i]
        self.i += 1
        return self.s[self.i - 1]

    def command(self) -> str:
        self.i += 1
        start = self.i
        while self.i < len(self.s) and self.s[self.i].isalpha():
            self.i += 1
        if self.i == start:  # \, \; \! \| \{ and the like
            self.i += 1
            return ""
        return self.s[start : self.i]

    def label(self) -> str | None:
        """A subscript that names rather than indexes: p_X, D_{KL}, sigma_{min}; consumed."""
        if self.peek_nonspace() != "_":
            return None
        save = self.i
        self.skip_space()
        self.i += 1
        text = self.group().strip()
        for wrapper in (r"\mathrm{", r"\text{"):
            if text.startswith(wrapper) and text.endswith("}") and text.count("{") == 1:
                return text[len(wrapper) : -1]
        if (len(text) == 1 and text.isupper()) or text in {r"\min", r"\max"}:
            return text.lstrip("\\")
        self.i = save
        return None

    def decoration(self) -> None:
        """A parenthesised superscript tags rather than powers: x^{(i)}, M^{(\\mathrm{out})}."""
        if self.s.startswith("^{(", self.i) and self.s.find(")}", self.i) > 0:
            self.i = self.s.find(")}", self.i) + 2

    def ident(self, base: str) -> Ident:
        self.decoration()
        ident = Ident(base, self.label())
        self.decoration()
        self.out.idents.append(ident)
        if self.bind_next:
            self.out.bound.add(ident)
            self.bind_next = False
        return ident

    def differential(self) -> None:
        self.record_operator("d")
        self.bind_next = "int" in self.out.operators

    def binder(self) -> None:
        """Record the letter bound by \\sum_{i=1}, \\prod_{s=1} or \\prod_{i}."""
        if self.peek_nonspace() != "_":
            return
        save = self.i
        self.skip_space()
        self.i += 1
        text = self.group()
        inner = Scanner(text.split("=")[0])
        inner.run()
        if len(inner.out.idents) == 1:
            self.out.bound.add(inner.out.idents[0])
        self.i = save

    def run(self) -> Scan:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                name = self.command()
                if not name:
                    continue
                if name in GREEK:
                    if name == "Delta" and self.peek_nonspace() not in {"", "\\", "_", "^"}:
                        self.skip_space()
                        self.ident(rf"\Delta {self.group()}")
                    elif name == "Delta" and self.s.startswith(r"\mathrm{", self.i):
                        self.ident(rf"\Delta\mathrm{{{self.group_after_command()}}}")
                    else:
                        self.ident("\\" + name)
                elif name in ACCENTS:
                    arg = self.group().strip()
                    self.ident(rf"\{name}{{{arg}}}")
                elif name in FONTS:
                    token = rf"\{name}{{{self.group().strip()}}}"
                    if token in FONT_OPERATORS:
                        self.record_operator(token)
                    else:
                        self.ident(token)
                elif name == "operatorname":
                    arg = self.group().strip()
                    assert arg in NAMED_OPERATORS, f"unknown operator {arg!r}"
                    self.record_operator(arg)
                elif name == "mathrm":
                    arg = self.group().strip()
                    if arg == "d":
                        self.differential()
                    elif arg not in ROMAN_OPERATORS:
                        self.ident(rf"\mathrm{{{arg}}}")
                elif name == "text":
                    self.group()
                elif name in OPERATORS:
                    self.record_operator(name)
                    if name in BINDERS:
                        self.binder()
                elif name not in LAYOUT:
                    raise AssertionError(f"unknown LaTeX command \\{name} in {self.s!r}")
                continue
            if c.isalpha():
                self.i += 1
                if c == "e" and self.peek_nonspace() == "^":
                    self.record_operator("exp")
                elif c == "d" and (self.peek_nonspace().isalpha() or self.peek_nonspace() == "\\"):
                    self.differential()  # the d of dx in a derivative or an integral
                else:
                    self.ident(c)
                continue
            self.i += 1
        return self.out

    def group_after_command(self) -> str:
        self.command()
        return self.group().strip()


def scan(latex: str) -> Scan:
    return Scanner(latex).run()


def split_parts(symbol: str) -> list[str]:
    """Split a symbol entry at top-level commas: "x_0, x_1" -> ["x_0", "x_1"]."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(symbol):
        depth += c in "({["
        depth -= c in ")}]"
        if c == "," and depth == 0:
            parts.append(symbol[start:i])
            start = i + 1
    parts.append(symbol[start:])
    return [part for part in parts if part.strip()]


def defined_by(symbol: str) -> tuple[set[Ident], set[str]]:
    """What one symbol entry defines: the first identifier of each part, or else its operators."""
    idents: set[Ident] = set()
    operators: set[str] = set()
    for part in split_parts(symbol):
        found = scan(part)
        if found.idents:
            idents.add(found.idents[0])
        elif found.first_operator:
            operators.add(found.first_operator)
    return idents, operators


def covered(ident: Ident, defined: set[Ident]) -> bool:
    """p_X is defined by p_X or by a bare p; x_t, x_0 and x by any entry whose base is x."""
    return ident in defined or Ident(ident.base) in defined


def occurs(ident: Ident, found: set[Ident]) -> bool:
    """A labelled entry must occur with its label; T also occurs as the label of x_T."""
    if ident.label is not None:
        return ident in found
    return any(ident.base in (other.base, other.label) for other in found)


def equations() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{key.removeprefix('concept:')}/{equation['id']}", equation)
        for key, (front, _) in concepts().items()
        for equation in front.get("equations", [])
    ]


EQUATIONS = equations()


def mismatch(equation: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(identifiers of the LaTeX with no symbol entry, symbol entries not in the LaTeX)."""
    latex = scan(equation["latex"])
    defined: set[Ident] = set()
    operators: set[str] = set()
    for entry in equation["symbols"]:
        idents, ops = defined_by(entry["symbol"])
        defined |= idents
        operators |= ops
    undefined = sorted(
        {str(i) for i in latex.idents if not covered(i, defined) and i not in latex.bound}
    )
    found = set(latex.idents)
    absent = []
    for entry in equation["symbols"]:
        idents, ops = defined_by(entry["symbol"])
        if any(not occurs(i, found) for i in idents) or not ops <= latex.operators:
            absent.append(entry["symbol"])
    return undefined, absent


@pytest.mark.parametrize(("key", "equation"), EQUATIONS, ids=[key for key, _ in EQUATIONS])
def test_symbol_list_and_latex_name_the_same_symbols(key: str, equation: dict[str, Any]) -> None:
    undefined, absent = mismatch(equation)
    assert not undefined, f"{key}: in the LaTeX but not in the symbol list: {undefined}"
    assert not absent, f"{key}: in the symbol list but not in the LaTeX: {absent}"


def test_the_corpus_has_equations_to_audit() -> None:
    assert len(EQUATIONS) >= 40


def test_the_scanner_reads_labels_accents_and_operators() -> None:
    found = scan(r"\log p_X(x) = \log p_Z\big(f^{-1}(x)\big) + \bar\alpha_t\,\mathbb{E}_q[\hat u]")
    assert [str(i) for i in found.idents] == [
        "p_X",
        "x",
        "p_Z",
        "f",
        "x",
        r"\bar{\alpha}",
        "t",
        "q",
        r"\hat{u}",
    ]
    assert {"log", r"\mathbb{E}"} <= found.operators


def test_a_bound_index_needs_no_entry_but_a_free_one_does() -> None:
    equation = {"latex": r"S = \sum_{i=1}^{D} a_i", "symbols": [{"symbol": "S"}, {"symbol": "a_i"}]}
    assert mismatch(equation) == (["D"], [])
    equation["symbols"].append({"symbol": "D"})
    assert mismatch(equation) == ([], [])


def test_an_entry_for_a_symbol_the_latex_lacks_is_reported() -> None:
    equation = {
        "latex": r"y = A x",
        "symbols": [{"symbol": "y"}, {"symbol": "A"}, {"symbol": "x"}, {"symbol": "b"}],
    }
    assert mismatch(equation) == ([], ["b"])


def test_an_entry_defines_the_head_of_each_part_not_its_arguments() -> None:
    equation = {"latex": r"p_X(z) = 0", "symbols": [{"symbol": "p_X(z)"}]}
    assert mismatch(equation) == (["z"], [])
    equation = {"latex": r"x_0 + x_T", "symbols": [{"symbol": "x_0, x_T"}]}
    assert mismatch(equation) == ([], [])


def test_an_unknown_command_is_refused_rather_than_skipped() -> None:
    with pytest.raises(AssertionError, match="unknown LaTeX command"):
        scan(r"\foo x")
