"""Imports point down (../shared/DESIGN.md): no module imports a higher floor, a
sibling package on its own floor, or anything outside the package; no import circle.

The imports are read from the source (every ``import`` / ``from ... import``
statement, at module level or inside functions, and ``importlib.import_module``
calls with a literal name), so lazy imports count too.
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Floors, bottom up; a module may import its own package and anything lower.
FLOORS = [
    {"_config", "exceptions"},
    {"backend", "descriptors"},
    {"utils", "io"},
    {"blocks", "datasets"},
    {"_views", "_modalities"},  # what the model floors share
    {"image", "text", "audio"},
    {"encoding", "parallel"},
    {"fusion", "crossmodal", "probabilistic", "cluster"},
    {"semi_supervised"},  # CCAClassifier learns its embedding with crossmodal's CCA
    {"bench", "viz"},  # the benchmark suites use every model floor
    {"cli"},  # mmfuse demo / retrieve / datasets / bench
    {"__main__"},  # python -m mmfuse: the command line
]
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}

#: Arrows still owed, each with the issue that removes it. Every entry must still
#: exist (a removed arrow must leave this list too).
KNOWN: dict = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names imported by the module at ``path`` (``from a import b``
    counts as ``a.b`` when ``a.b`` is a module, else as ``a``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
    return found


MODULES = {_module_name(p): p for p in (SRC / "mmfuse").rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _first_party(imported: str) -> bool:
    return imported == "mmfuse" or imported.startswith("mmfuse.")


def test_every_package_has_a_floor():
    packages = {_package(m) for m in MODULES} - {""}
    assert packages <= set(FLOOR), f"no floor for {sorted(packages - set(FLOOR))}"


def test_no_upward_sideways_or_outward_import():
    local = {"benchmarks", "tests", "docs"}  # repository folders outside the package
    bad = []
    for module, imported in GRAPH.items():
        source = _package(module)
        for target in imported:
            if (module, target) in KNOWN:
                continue
            if target.split(".")[0] in local:
                bad.append(f"{module} -> {target} (outside the package)")
            elif _first_party(target) and source:
                dest = _package(target)
                if dest and dest != source and FLOOR[dest] >= FLOOR[source]:
                    kind = "sideways" if FLOOR[dest] == FLOOR[source] else "upward"
                    bad.append(f"{module} -> {target} ({kind}: {source} is on floor "
                               f"{FLOOR[source]}, {dest} on {FLOOR[dest]})")
    assert not bad, "\n".join(sorted(bad))


def test_known_arrows_still_exist():
    gone = [arrow for arrow in sorted(KNOWN) if arrow[1] not in GRAPH[arrow[0]]]
    assert not gone, f"{gone} are gone: remove them from KNOWN"


def test_no_import_circle():
    """No cycle among modules, a package's ``__init__`` re-exporting its own
    submodules excepted (those edges point into the package, not back out)."""
    edges = {m: {t for t in targets if t in MODULES and not
                 (m.startswith(t + ".") and MODULES[t].name == "__init__.py")}
             for m, targets in GRAPH.items()}
    # a package __init__ importing its submodules is the other half of that pair
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
