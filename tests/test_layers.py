"""The package's layers hold: no upward import, no private name across modules, no cycle.

DESIGN.md's layers, from the ground up: a module may import from its own
layer or lower ones, never a higher one; imports inside functions count the
same as those at the top. A package's ``__init__`` only gathers its
modules' public names, so it is exempt from the upward rule but not from
the others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wgangp

ROOT = Path(wgangp.__file__).resolve().parent

LAYERS: dict[str, int] = {
    # 0 ground
    "_version": 0,
    "errors": 0,
    "validation": 0,
    "blocks": 0,
    "history": 0,
    # 1 math
    "kernels": 1,
    "backend": 1,
    "flat": 1,
    "init": 1,
    "activations": 1,
    "nn": 1,
    "optim": 1,
    "losses": 1,
    "cycle": 1,
    # 2 core and files
    "modelfile": 2,
    "runs": 2,
    "steps": 2,
    "saving": 2,
    "train": 2,
    "threads": 2,
    "parallel": 2,
    # 3 estimators
    "model": 3,
    "tabular": 3,
    "translate": 3,
    # 4 watching
    "monitor": 4,
    "diagnose": 4,
    "gradcheck": 4,
    "schedules": 4,
    # 5 output
    "data": 5,
    "metrics": 5,
    "plot": 5,
    "report": 5,
    "tabular.augment": 5,
    # 6 entry
    "config": 6,
    "presets": 6,
    "cli": 6,
    "demo": 6,
    "__main__": 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> int:
    """The layer of a dotted module name inside wgangp (the longest key that matches)."""
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        key = ".".join(parts[:k])
        if key in LAYERS:
            return LAYERS[key]
    raise KeyError(f"module wgangp.{module} has no layer in tests/test_layers.py; add it")


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(module: str, path: Path):
    """(imported module, imported names, line) for each import of a wgangp module."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.split(".")[0] == "wgangp":
                target = ".".join(node.module.split(".")[1:])
            else:
                continue
            names = [alias.name for alias in node.names]
            yield target, names, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "wgangp":
                    yield ".".join(alias.name.split(".")[1:]), [], node.lineno


def _resolve(target: str, names: list[str], modules: dict[str, Path]) -> list[str]:
    """The modules an import reaches: ``from . import monitor`` reaches ``monitor``."""
    reached = [target] if target in modules or target == "" else []
    for name in names:
        sub = f"{target}.{name}" if target else name
        if sub in modules:
            reached.append(sub)
    return [m for m in reached if m] or [target]


def _graph():
    modules = _modules()
    edges = {}
    for module, path in modules.items():
        for target, names, line in _imports(module, path):
            for reached in _resolve(target, names, modules):
                edges.setdefault(module, []).append((reached, names, line))
    return modules, edges


def test_every_module_has_a_layer():
    missing = []
    for module in _modules():
        if not module:
            continue
        try:
            _layer(module)
        except KeyError:
            missing.append(module)
    assert not missing, f"modules without a layer: {missing}"


def _upward(modules, edges) -> list[str]:
    upward = []
    for module, targets in edges.items():
        if not module or modules[module].name == "__init__.py":
            continue
        for target, _, line in targets:
            if target and _layer(target) > _layer(module):
                upward.append(
                    f"wgangp.{module} (layer {_layer(module)}) imports wgangp.{target} "
                    f"(layer {_layer(target)}) at line {line}"
                )
    return upward


def test_no_module_imports_one_above_it():
    upward = _upward(*_graph())
    assert not upward, "\n".join(upward)


def _private(edges) -> list[str]:
    private = []
    for module, targets in edges.items():
        for target, names, line in targets:
            if target == module:
                continue
            bad = [n for n in names if n.startswith("_") and n != "__version__"]
            if bad:
                private.append(f"wgangp.{module} imports {bad} from wgangp.{target} (line {line})")
    return private


def test_no_module_imports_a_private_name_of_another():
    private = _private(_graph()[1])
    assert not private, "\n".join(private)


def test_the_import_graph_has_no_cycle():
    modules, edges = _graph()
    graph = {
        m: sorted({t for t, _, _ in edges.get(m, []) if t in modules and t != m})
        for m in modules
        if m
    }
    # a package imports its own modules; the edges back from them to the package
    # __init__ (``from . import x``) are not a cycle of code
    for m in graph:
        graph[m] = [t for t in graph[m] if not (m.startswith(t + ".") or t == "")]
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(f"wgangp.{m}" for m in cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)


def test_the_rules_catch_what_they_forbid():
    """The checks can fail: an upward import and a private name are both caught."""
    modules = {"nn": ROOT / "nn.py", "cli": ROOT / "cli"}
    edges = {"nn": [("cli", ["main", "_helper"], 7)]}
    assert _upward(modules, edges) == ["wgangp.nn (layer 1) imports wgangp.cli (layer 6) at line 7"]
    assert _private(edges) == ["wgangp.nn imports ['_helper'] from wgangp.cli (line 7)"]
