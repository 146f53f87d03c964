"""No module-level mutable state (docs/architecture.md, "Scale"), checked on the parsed source.

What an instance keeps while it runs lives on the application (typed keys of proxy/appkeys.py) or in an
object the app owns and passes down, never in a module: a module's state is shared by every app of the
process (the tests run many), outlives the app that filled it and hides who depends on it. Every module
under proxy/, web/, vk_emulator/ and tg_emulator/ is parsed (not imported). A module-level name fails
when, inside any function of its module:

- it holds a mutable container (a dict, list or set literal or comprehension, or a call of dict, list,
  set, defaultdict, deque, OrderedDict, WeakKeyDictionary, WeakValueDictionary, WeakSet, ...) and is
  changed: an item set or deleted, or a changing method called (append, add, setdefault, pop, ...);
- it is rebound (`global name` and an assignment);

and, at module level, when it holds an instance of one of the project's own classes that is not frozen
(a frozen dataclass, a NamedTuple or an Enum is a value).

A container filled once at import and never changed after is a constant and passes; prefer a tuple,
a frozenset or a MappingProxyType for a new one. What still breaks the rule is listed below as known
debt, each entry with why it is there; a new one fails, and so does an entry that no longer applies.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy", "web", "vk_emulator", "tg_emulator")

# -- known debt: each entry is to be removed, never added to -------------------------------------------

KNOWN_STATE = {
    # Refusals counted in memory until journaled: counted deep in proxy/access.py (`deny`), whose callers
    # (actions, canned responses, admin checks, the statistics and audit views) do not have the app yet.
    # The runtime owns its lifecycle (proxy/runtime/workers.py `refusals_context`).
    ("proxy.refusals", "REFUSALS"),
    # The journal key's MAC secret, set once at start (workers.py `journal_key_context`, the CLI's main):
    # `journal.record` is called from some 30 places, none of which has the app or the settings yet.
    ("proxy.audit.journal", "_mac_secret"),
}

# Containers the rule above sees changed that are constants all the same: filled at import, never after.
IMPORT_TIME_CONSTANTS = {
    ("vk_emulator.methods", "METHODS"),  # the emulated VK methods, registered by a decorator at import
}

MUTABLE_CALLS = frozenset({
    "dict", "list", "set", "bytearray", "defaultdict", "OrderedDict", "deque", "ChainMap",
    "WeakKeyDictionary", "WeakValueDictionary", "WeakSet",
})  # fmt: skip
MUTABLE_LITERALS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
CHANGING_METHODS = frozenset({
    "append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear", "discard",
    "remove", "sort", "reverse", "appendleft", "extendleft", "popleft", "difference_update",
    "intersection_update", "symmetric_difference_update", "__setitem__", "__delitem__",
})  # fmt: skip
# What makes a project class's instances values rather than state.
VALUE_BASES = frozenset({"NamedTuple", "Enum", "StrEnum", "IntEnum", "Exception"})


@dataclass(frozen=True)
class Finding:
    module: str
    name: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} {self.name}: {self.why}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _trees() -> dict[str, ast.Module]:
    trees = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            trees[_module_name(path)] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return trees


TREES = _trees()


def _called_name(node: ast.expr) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _is_frozen(cls: ast.ClassDef) -> bool:
    for decorator in cls.decorator_list:
        if isinstance(decorator, ast.Call) and any(
            keyword.arg == "frozen" and isinstance(keyword.value, ast.Constant) and keyword.value.value
            for keyword in decorator.keywords
        ):
            return True
    bases = {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "") for base in cls.bases}
    return bool(bases & VALUE_BASES)


def _project_classes() -> dict[str, bool]:
    """Every class the project defines, by name: whether its instances are values (frozen)."""
    classes: dict[str, bool] = {}
    for tree in TREES.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = classes.get(node.name, True) and _is_frozen(node)
    return classes


CLASSES = _project_classes()


def _module_level(tree: ast.Module) -> dict[str, tuple[ast.expr, int]]:
    """Names bound at module level (outside functions and classes) to the value they are bound to."""
    bound: dict[str, tuple[ast.expr, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = (node.value, node.lineno)
        elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
            bound[node.target.id] = (node.value, node.lineno)
    return bound


def _is_container(value: ast.expr) -> bool:
    return isinstance(value, MUTABLE_LITERALS) or _called_name(value) in MUTABLE_CALLS


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)]


def _local_names(function: ast.AST) -> set[str]:
    """Names a function binds itself (its parameters and plain assignments), unless declared global."""
    declared_global = {name for node in ast.walk(function) if isinstance(node, ast.Global) for name in node.names}
    local = set()
    if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = function.args
        local |= {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
    return local - declared_global


def _changes(function: ast.AST, names: set[str]) -> list[tuple[str, int, str]]:
    """(name, line, how) for each change of a module-level name inside `function`."""
    visible = names - _local_names(function)
    declared_global = {name for node in ast.walk(function) if isinstance(node, ast.Global) for name in node.names}
    found = []
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            if isinstance(node.value, ast.Name) and node.value.id in visible:
                found.append((node.value.id, node.lineno, "an item is set or deleted"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if isinstance(target, ast.Name) and target.id in visible and node.func.attr in CHANGING_METHODS:
                found.append((target.id, node.lineno, f".{node.func.attr}() changes it"))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in declared_global:
            found.append((node.id, node.lineno, "rebound at run time (global)"))
    return found


def _findings() -> list[Finding]:
    findings = []
    for module, tree in TREES.items():
        bound = _module_level(tree)
        containers = {name for name, (value, _) in bound.items() if _is_container(value)}
        changed = {}
        for function in _functions(tree):
            for name, line, how in _changes(function, containers | set(bound)):
                if name in containers or how.startswith("rebound"):
                    changed.setdefault(name, (line, how))
        for name, (line, how) in changed.items():
            findings.append(Finding(module, name, line, how))
        for name, (value, line) in bound.items():
            made_by = value.func.id if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) else None
            if made_by is not None and CLASSES.get(made_by) is False:
                findings.append(Finding(module, name, line, f"an instance of {made_by}, which is not frozen"))
    return sorted(set(findings), key=str)


FINDINGS = _findings()


def test_the_rule_sees_what_it_is_for() -> None:
    """The rule is only as good as what it sees: a changed container, a rebinding, a stateful object."""
    source = """
from collections import defaultdict
import weakref

ROLES = frozenset({"a"})
TABLE = {"a": 1}
_seen = set()
_by_key = weakref.WeakKeyDictionary()
_counts = defaultdict(int)
_current = None

class Counter:
    def __init__(self):
        self.n = 0

COUNTER = Counter()

def note(key):
    _seen.add(key)
    _by_key[key] = TABLE[key]
    _counts[key] += 1

def switch(new):
    global _current
    _current = new

def shadowed(_seen):
    _seen.add(1)
"""
    tree = ast.parse(source)
    bound = _module_level(tree)
    containers = {name for name, (value, _) in bound.items() if _is_container(value)}
    assert containers == {"TABLE", "_seen", "_by_key", "_counts"}
    changes = {(name, how.split()[0]) for f in _functions(tree) for name, _, how in _changes(f, set(bound))}
    assert changes == {("_seen", ".add()"), ("_by_key", "an"), ("_counts", "an"), ("_current", "rebound")}
    assert not _is_frozen(next(n for n in tree.body if isinstance(n, ast.ClassDef)))


def test_no_module_level_mutable_state() -> None:
    found = {(f.module, f.name) for f in FINDINGS}
    new = [str(f) for f in FINDINGS if (f.module, f.name) not in KNOWN_STATE | IMPORT_TIME_CONSTANTS]
    assert new == [], "module-level state (put it on the app, appkeys.py, or in an object it owns):\n" + "\n".join(new)
    gone = (KNOWN_STATE | IMPORT_TIME_CONSTANTS) - found
    assert not gone, f"no longer module state, remove from the lists: {sorted(gone)}"
