"""The package's layers (docs/architecture.md): the import graph, deferred imports included, has no cycle, the
core never imports the layers built on it, and the library leaves the app (demos/) and the repository alone."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hyperlib"
UPPER = ("hyperlib.sound_design", "hyperlib.evaluation", "hyperlib.training", "hyperlib.modelcard", "hyperlib.sampler",
         "hyperlib.cli")
"""What the core must not import: the layers above the pipeline."""


def module_files() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, modules: dict) -> set[str]:
    """The hyperlib modules ``name`` imports anywhere in its source (its own parent packages left out)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            while target.startswith("hyperlib") and target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports(name, path, modules) for name, path in modules.items()}


def test_the_core_never_imports_the_layers_above_it():
    graph = import_graph()
    core = [m for m in graph if not m.startswith(UPPER) and m not in ("hyperlib", "hyperlib.__main__")]
    assert "hyperlib.render" in core and "hyperlib.pipeline" in core
    assert not {m: sorted(t for t in graph[m] if t.startswith(UPPER)) for m in core if any(
        t.startswith(UPPER) for t in graph[m])}
    sound_design = [m for m in graph if m.startswith("hyperlib.sound_design")]
    assert sound_design and not [t for m in sound_design for t in graph[m]
                                 if t.startswith(("hyperlib.evaluation", "hyperlib.sampler", "hyperlib.cli"))]


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            assert state.get(target) != 1, " -> ".join(path + [module, target])
            if target not in state:
                visit(target, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_library_needs_neither_the_app_nor_the_repository():
    """Only the ``bench-app`` command imports the app's package (demos/, lazily); the only paths built from a
    module's own location are the learned vocoder's weights beside it and the checkpoint of a source checkout
    (``hub.BUNDLED``, one step of ``from_pretrained``'s documented search)."""
    app_users, located = set(), {}
    for name, path in module_files().items():
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "demos":
                app_users.add(name)
            elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "demos" for a in node.names):
                app_users.add(name)
        located.update({name: line.strip() for line in source.splitlines() if "__file__" in line})
    assert app_users == {"hyperlib.cli"}
    assert located == {"hyperlib.vocoders.ddsp": 'WEIGHTS = Path(__file__).with_name("ddsp.safetensors")',
                       "hyperlib.hub": 'BUNDLED = Path(__file__).resolve().parents[1] / "checkpoints"'}
