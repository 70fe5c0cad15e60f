"""The core package's shape: imports run one way, and mcseg knows nothing of MONAI Label or HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "mcseg"


def _unit(module: str) -> str:
    """The pipeline stage (sub-package) or top-level module that ``mcseg.x.y`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mcseg"


def _imports(path: Path) -> set[str]:
    """Every mcseg module ``path`` imports, at the top or inside a function (a lazy import counts)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("mcseg", *path.relative_to(PACKAGE).with_suffix("").parts))
        source = _unit(module)
        graph.add_node(source)
        for target in _imports(path):
            if target.startswith("mcseg.") and _unit(target) != source:
                graph.add_edge(source, _unit(target), where=str(path.relative_to(PACKAGE)))
    return graph


def test_package_import_graph_has_no_cycle():
    graph = _graph()
    cycles = list(nx.simple_cycles(graph))
    detail = [" -> ".join(c + [c[0]]) + " (" + ", ".join(graph.edges[a, b]["where"] for a, b in
                                                          zip(c, c[1:] + c[:1])) + ")" for c in cycles]
    assert not cycles, "import cycles between mcseg packages:\n" + "\n".join(detail)


def test_imports_run_from_the_pipeline_stages_to_their_users():
    graph = _graph()
    # A lower layer never reaches an upper one, even indirectly.
    layers = [("io", "defaults", "runtime"), ("preprocess",),
              ("detector", "segmentator", "calcifications", "fp_reduction", "patches"),
              ("pipeline",), ("evaluation", "batch"), ("training", "activelearning"), ("cli",)]
    rank = {unit: i for i, layer in enumerate(layers) for unit in layer}
    for a, b in graph.edges:
        if a in rank and b in rank:
            assert rank[b] <= rank[a], f"{a} imports {b} ({graph.edges[a, b]['where']}), which sits above it"
    assert not nx.has_path(graph, "evaluation", "training")


def test_core_package_knows_nothing_of_monai_label_or_http():
    for path in PACKAGE.rglob("*.py"):
        roots = {name.split(".")[0] for name in _imports(path)}
        assert not roots & {"monailabel", "fastapi", "starlette", "uvicorn", "httpx", "requests"}, path
