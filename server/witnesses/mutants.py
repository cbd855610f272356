"""Small wrong versions of a witness's code, made on its syntax tree, deterministically.

A witness is only evidence if its checks would notice a wrong implementation. A *mutant* is
the witness with one small change a slip of the pen could make:

- ``arith``: an arithmetic operator swapped (``+``/``-``, ``*``/``/``, ``**`` to ``*``,
  ``//`` to ``/``, ``@`` untouched), in expressions and in augmented assignments;
- ``sign``: a unary minus dropped (``-x`` to ``x``);
- ``compare``: a comparison negated (``<`` to ``>=``, ``==`` to ``!=``, ``in`` to ``not in``);
- ``constant``: a numeric constant changed (``c`` to ``c + 1`` and to ``-c``; ``0.5`` to
  ``2.0``: a float becomes its reciprocal) or a boolean flipped;
- ``drop-term``: one operand of a sum or difference removed, or an ``x += y`` / ``x -= y``
  statement dropped;
- ``off-by-one``: an index, slice bound or ``range`` argument moved by one;
- ``swap-args``: the two positional arguments of a call swapped (not for functions that are
  symmetric in them, such as ``np.maximum``).

Not mutated, on purpose: strings and docstrings, the digits argument of ``round`` (printing
precision, not the computation) and a negated ``axis=`` (``axis=-1`` names the same axis as
``axis=1`` on the 2-D arrays witnesses use). A change that leaves the tree's dump unchanged
is no mutant; two changes that unparse to the same source are one.

Each mutant has a stable id, ``<operator>-<8 hex digits>``: a digest of the operator, the
statement it sits in and the change, so ids survive edits elsewhere in the code (a line
moving does not rename a mutant). At most ``cap`` mutants are kept, spread evenly over the
code in source order; how many there were in all is kept too.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

DEFAULT_CAP = 40

OPERATORS = ("arith", "sign", "compare", "constant", "drop-term", "off-by-one", "swap-args")

_ARITH: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
_NEGATED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.LtE: ast.Gt,
    ast.Gt: ast.LtE,
    ast.GtE: ast.Lt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
# Functions whose two positional arguments may be swapped without changing the result.
_SYMMETRIC = frozenset(
    {"max", "min", "logaddexp", "logaddexp2", "maximum", "minimum", "hypot", "add",
     "multiply", "fmax", "fmin", "isclose", "allclose", "array_equal", "dot", "zip"}
)  # fmt: skip
_ROUNDING = frozenset({"round", "around"})
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
    ast.Mod: "%", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
    ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    id: str
    operator: str
    line: int
    description: str
    code: str


@dataclass(frozen=True)
class MutantSet:
    """The mutants kept (at most ``cap``) and how many distinct ones the code has in all."""

    mutants: tuple[Mutant, ...]
    total: int
    cap: int


@dataclass(frozen=True)
class _Change:
    operator: str
    what: str  # the change, as "before -> after"
    apply: Callable[[ast.AST], ast.AST | None]  # the node's new version (None: changed in place)


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _src(node: ast.AST) -> str:
    return ast.unparse(node)


def _number(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


Apply = Callable[[ast.AST], ast.AST | None]


def _becomes(new: ast.AST) -> Apply:
    return lambda _node: copy.deepcopy(new)


def _part(name: str) -> Apply:
    def apply(node: ast.AST) -> ast.AST:
        part = getattr(node, name)
        assert isinstance(part, ast.AST)
        return part

    return apply


def _setting(name: str, value: object) -> Apply:
    def apply(node: ast.AST) -> None:
        setattr(node, name, value)

    return apply


def _swapped(node: ast.AST) -> None:
    assert isinstance(node, ast.Call)
    node.args = node.args[::-1]


def _const(value: bool | int | float) -> ast.expr:
    if isinstance(value, int | float) and value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))
    return ast.Constant(value=value)


def _protected(tree: ast.AST) -> set[int]:
    """ids of constants not to change: ``round``'s digits and ``axis=`` values' sign."""
    keep: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in _ROUNDING:
            keep.update(id(arg) for arg in node.args[1:])
            keep.update(id(k.value) for k in node.keywords if k.arg == "decimals")
    return keep


def _axis_values(tree: ast.AST) -> set[int]:
    return {
        id(k.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for k in node.keywords
        if k.arg == "axis"
    }


def _constant_changes(node: ast.Constant, axis: bool) -> Iterator[_Change]:
    value = node.value
    if isinstance(value, bool):
        yield _Change("constant", f"{value} -> {not value}", _becomes(_const(not value)))
        return
    assert isinstance(value, int | float)
    options: list[int | float] = [value + 1]
    if value != 0 and not axis:
        options.append(-value)
    if isinstance(value, float) and value not in (0.0, 1.0, -1.0):
        options.append(1.0 / value)
    for new in options:
        yield _Change("constant", f"{value!r} -> {new!r}", _becomes(_const(new)))


def _plus(node: ast.expr, step: int) -> ast.expr:
    op: ast.operator = ast.Add() if step > 0 else ast.Sub()
    return ast.BinOp(left=node, op=op, right=ast.Constant(value=1))


def _stepper(step: int) -> Apply:
    def apply(node: ast.AST) -> ast.AST:
        assert isinstance(node, ast.expr)
        return _plus(node, step)

    return apply


def _off_by_one(node: ast.expr) -> Iterator[_Change]:
    for step in (1, -1):
        after = _src(_plus(copy.deepcopy(node), step))
        yield _Change("off-by-one", f"{_src(node)} -> {after}", _stepper(step))


def _index_targets(tree: ast.AST) -> set[int]:
    """ids of expressions used as an index, a slice bound or a ``range`` argument."""
    targets: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            part = node.slice
            parts = part.elts if isinstance(part, ast.Tuple) else [part]
            for item in parts:
                if isinstance(item, ast.Slice):
                    targets.update(id(b) for b in (item.lower, item.upper) if b is not None)
                elif _number(item) or not isinstance(item, ast.Constant):
                    targets.add(id(item))
        elif isinstance(node, ast.Call) and _name(node.func) == "range":
            targets.update(id(a) for a in node.args)
    return targets


def _changes(tree: ast.AST) -> Iterator[tuple[ast.AST, _Change]]:
    protected = _protected(tree)
    axis = _axis_values(tree)
    indexes = _index_targets(tree)
    docstrings = {
        id(body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and (body := node.body)
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _ARITH:
            new_op = _ARITH[type(node.op)]
            yield (
                node,
                _Change(
                    "arith",
                    f"{_SYMBOLS[type(node.op)]} -> {_SYMBOLS[new_op]}",
                    _setting("op", new_op()),
                ),
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            yield (
                node,
                _Change(
                    "drop-term",
                    f"{_src(node)} -> {_src(node.left)}",
                    _part("left"),
                ),
            )
            if isinstance(node.op, ast.Add):
                yield (
                    node,
                    _Change(
                        "drop-term",
                        f"{_src(node)} -> {_src(node.right)}",
                        _part("right"),
                    ),
                )
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.Sub):
            yield node, _Change("drop-term", f"{_src(node)} -> pass", _becomes(ast.Pass()))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield (
                node,
                _Change(
                    "sign",
                    f"{_src(node)} -> {_src(node.operand)}",
                    _part("operand"),
                ),
            )
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _NEGATED:
            new_cmp = _NEGATED[type(node.ops[0])]
            yield (
                node,
                _Change(
                    "compare",
                    f"{_SYMBOLS[type(node.ops[0])]} -> {_SYMBOLS[new_cmp]}",
                    _setting("ops", [new_cmp()]),
                ),
            )
        if _number(node) and id(node) not in protected:
            assert isinstance(node, ast.Constant)
            for change in _constant_changes(node, id(node) in axis):
                yield node, change
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            for change in _constant_changes(node, False):
                yield node, change
        if id(node) in indexes:
            assert isinstance(node, ast.expr)
            for change in _off_by_one(node):
                yield node, change
        if (
            isinstance(node, ast.Call)
            and len(node.args) == 2
            and not any(isinstance(a, ast.Starred) for a in node.args)
            and _name(node.func) not in _SYMMETRIC | _ROUNDING | {"print"}
            and ast.dump(node.args[0]) != ast.dump(node.args[1])
        ):
            yield (
                node,
                _Change(
                    "swap-args",
                    f"{_src(node.args[0])}, {_src(node.args[1])} swapped",
                    _swapped,
                ),
            )


def _parents(tree: ast.AST) -> dict[int, tuple[ast.AST, str, int | None]]:
    """id of each node -> (parent, field, position in the field's list or None)."""
    where: dict[int, tuple[ast.AST, str, int | None]] = {}
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, ast.AST):
                where[id(value)] = (parent, field, None)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        where[id(item)] = (parent, field, i)
    return where


def _put(place: tuple[ast.AST, str, int | None], node: ast.AST) -> None:
    parent, field, position = place
    if position is None:
        setattr(parent, field, node)
    else:
        getattr(parent, field)[position] = node


def _statements(tree: ast.AST) -> dict[int, str]:
    """id of each node -> the source of the simple statement (or header) holding it."""
    where: dict[int, str] = {}
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt):
            continue
        if hasattr(stmt, "body"):  # a compound statement: its header parts only
            parts = [
                v
                for f, v in ast.iter_fields(stmt)
                if f not in ("body", "orelse", "handlers", "finalbody")
            ]
            nodes = [
                n
                for p in parts
                for n in (p if isinstance(p, list) else [p])
                if isinstance(n, ast.AST)
            ]
            text = type(stmt).__name__ + ":" + "|".join(_src(n) for n in nodes)
        else:
            nodes, text = [stmt], _src(stmt)
        for part in nodes:
            for sub in ast.walk(part):
                where[id(sub)] = text
    return where


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:8]


def _spread(items: list[Mutant], cap: int) -> list[Mutant]:
    if len(items) <= cap:
        return items
    return [items[(i * len(items)) // cap] for i in range(cap)]


def generate(code: str, cap: int = DEFAULT_CAP) -> MutantSet:
    """Every distinct mutant of ``code`` (in source order), at most ``cap`` of them kept.

    Code that does not parse has no mutants.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return MutantSet((), 0, cap)
    original_src = ast.unparse(tree)
    seen: set[str] = {original_src}
    ids: dict[str, int] = {}
    found: list[tuple[int, int, int, Mutant]] = []
    statements = _statements(tree)
    parents = _parents(tree)
    for order, (node, change) in enumerate(_changes(tree)):
        place = parents.get(id(node))
        if place is None:
            continue
        changed = copy.deepcopy(node)
        replacement = change.apply(changed)
        new = changed if replacement is None else replacement
        if ast.dump(new) == ast.dump(node):
            continue
        _put(place, new)
        try:
            source = ast.unparse(tree)  # unparsing needs no locations
        finally:
            _put(place, node)
        if source in seen:
            continue
        try:
            with warnings.catch_warnings():  # the same mutants whatever the warning filters
                warnings.simplefilter("ignore")
                compile(source, "<mutant>", "exec")
        except SyntaxError:
            continue
        seen.add(source)
        line = getattr(node, "lineno", 0)
        where = statements.get(id(node), "")
        stem = f"{change.operator}-{_digest(change.operator, where, change.what)}"
        ids[stem] = ids.get(stem, 0) + 1
        mutant_id = stem if ids[stem] == 1 else f"{stem}-{ids[stem]}"
        description = f"line {line}: {change.operator} {change.what}"
        col = getattr(node, "col_offset", 0)
        found.append(
            (line, col, order, Mutant(mutant_id, change.operator, line, description, source))
        )
    found.sort(key=lambda item: item[:3])
    every = [item[3] for item in found]
    return MutantSet(tuple(_spread(every, cap)), len(every), cap)
