"""Imports in ``iastp_tf`` run one way, bottom to top (SPEC §1b, issue 11.1).

Every module's imports are read with ``ast`` (those inside functions too) and
each import of another part of the package must go to the same or a lower
layer. ``iastp_tf.configurables`` (the gin registry) sits above every part that
defines configurables and may import them all; only ``sweep``, which parses gin
files itself, sits above it. Nothing in the package imports ``experiments`` or
``tools``.
"""

import ast
import os

# Bottom to top; parts of one rank may import each other.
RANKS = {
    "native_logs": 0,
    "runs": 0,
    "data": 0,
    "layers": 1,
    "backbones": 1,
    "models": 2,
    "training": 3,
    "evaluation": 4,
    "analysis": 5,
    "configurables": 6,
    "sweep": 7,
}
FORBIDDEN = ("experiments", "tools")
PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "iastp_tf")


def _imported_modules(tree, module):
    """Absolute dotted names imported by a parsed module ``module`` (``a.b.c``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                base = module.split(".")[: -node.level]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            for alias in node.names:
                yield node.lineno, f"{prefix}.{alias.name}"


def _part(dotted, package):
    """The part (``"training"``, ``"runs"``, ...) a dotted name falls in; None for the package root."""
    names = dotted.split(".")
    return names[1] if names[0] == package and len(names) > 1 else None


def layer_violations(package_dir) -> list[str]:
    """Every import in the package at ``package_dir`` that goes to a higher layer (or a forbidden place)."""
    package = os.path.basename(os.path.normpath(package_dir))
    root = os.path.dirname(os.path.normpath(package_dir))
    violations = []
    for folder, _, files in os.walk(package_dir):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
            module = ".".join(relative[:-1] if relative[-1] == "__init__" else relative)
            source = _part(module + ".__init__" if relative[-1] == "__init__" else module, package)
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            for line, dotted in _imported_modules(tree, module if relative[-1] != "__init__" else module + ".x"):
                where = f"{os.path.relpath(path, root)}:{line} imports {dotted}"
                if dotted.split(".")[0] in FORBIDDEN:
                    violations.append(f"{where} ({dotted.split('.')[0]}/ is above the package)")
                    continue
                target = _part(dotted, package)
                if target is None or source is None or target == "__init__":
                    continue
                if target not in RANKS or source not in RANKS:
                    violations.append(f"{where} (part {target if target not in RANKS else source!r} has no layer)")
                elif RANKS[target] > RANKS[source]:
                    violations.append(f"{where} ({target} is above {source})")
    return violations


def test_the_package_imports_run_one_way():
    assert layer_violations(PACKAGE) == []


def _write(root, files):
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_finds_planted_violations(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/runs.py": "import os\n",
        "pkg/data/__init__.py": "from pkg import runs\n",  # down: fine
        "pkg/training/__init__.py": "",
        "pkg/training/train.py": "from pkg.models import stream\nfrom . import loop\n",  # down, same part
        "pkg/training/loop.py": "def f():\n    from pkg.evaluation.evaluate import metrics\n",  # up, in a function
        "pkg/models/stream.py": "from ..training import train\n",  # up, relative
        "pkg/evaluation/evaluate.py": "import experiments.gin_flags\n",  # forbidden
        "pkg/configurables.py": "import pkg.analysis.trained\n",  # the registry: fine
        "pkg/analysis/trained.py": "from pkg import configurables\n",  # up to the registry
        "pkg/newpart/x.py": "from pkg import runs\n",  # unranked
    })
    found = layer_violations(str(tmp_path / "pkg"))
    assert len(found) == 5, found
    expected = [
        "training/loop.py:2 imports pkg.evaluation.evaluate.metrics (evaluation is above training)",
        "models/stream.py:1 imports pkg.training.train (training is above models)",
        "evaluation/evaluate.py:1 imports experiments.gin_flags (experiments/ is above the package)",
        "analysis/trained.py:1 imports pkg.configurables (configurables is above analysis)",
        "newpart/x.py:1 imports pkg.runs (part 'newpart' has no layer)",
    ]
    for line in expected:
        assert any(line in violation for violation in found), line
