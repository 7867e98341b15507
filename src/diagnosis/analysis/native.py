"""The per-answer analysis compiled to C by mypyc, used only while it matches its source.

`make install` runs scripts/build_native.py (`main` here), which compiles COMPILED (the modules
`analyze_answer` runs for every answer) with mypyc into `_native/` beside this file and writes a
manifest of the sources' hashes. On import, `diagnosis.analysis` puts `_native/` first on its
`__path__` only when every hash still matches, so an edited source is never shadowed by a stale
build: it runs as Python until the next `make install`. The compiled modules are the same
source, type-checked by mypy as they compile; their outputs are tested against the Python's
(tests/analysis/test_native.py).

Why mypyc and not a rewrite in C or Rust: the rules are the reference and change often; mypyc
keeps one source in Python and takes ~1.5-1.9x off their cost (BENCHMARKS.md section 6b).

`DIAGNOSIS_NATIVE_ANALYSIS=0` in the process environment runs the Python source even when a
build matches (the test suite does, so that its call-counting tests see Python functions).
Read from the environment only, not from `.env`: it is decided before settings load.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
NATIVE_DIR = HERE / "_native"
MANIFEST = "manifest.json"
GROUP = "diagnosis.analysis._native"  # the shared library: _native__mypyc.<suffix>
ENV = "DIAGNOSIS_NATIVE_ANALYSIS"
# Not the report's modules with pydantic models (metrics, report, report_*): mypyc cannot
# compile those class bodies (mypy 2.4); discovery is the report's costly per-answer part.
COMPILED = (
    "discovery", "domains", "extract", "lexicon", "mentions", "passages", "rank", "sentiment",
    "sources", "stance", "text",
)
_OFF = {"0", "false", "no", "off"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _abi() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX"))


def manifest_for(sources: Path, modules: Iterable[str]) -> dict[str, object]:
    return {"abi": _abi(),
            "modules": {name: _digest(sources / f"{name}.py") for name in modules}}


def matches(native_dir: Path, sources: Path) -> bool:
    """Whether `native_dir` holds a build of exactly the current sources, for this Python."""
    try:
        recorded = json.loads((native_dir / MANIFEST).read_text())
        modules = recorded["modules"]
        return bool(
            recorded == manifest_for(sources, modules)
            and all((native_dir / f"{name}{_abi()}").is_file() for name in modules)
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def wanted() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in _OFF


def describe(enabled: bool) -> str:
    """Which analysis this process runs, for the start-up log."""
    if enabled:
        return "compiled (mypyc)"
    if not wanted():
        return f"Python ({ENV}=0)"
    return "Python (no compiled build matching the sources; make install builds one)"


def enable(package_path: list[str], native_dir: Path = NATIVE_DIR,
           sources: Path = HERE) -> bool:
    """Put `native_dir` first on the package's `__path__` when its build is current and
    wanted; -> whether it did. Called by diagnosis/analysis/__init__.py before any import."""
    if not wanted() or not matches(native_dir, sources):
        return False
    if str(native_dir) not in package_path:
        package_path.insert(0, str(native_dir))
    return True


def build(native_dir: Path = NATIVE_DIR, sources: Path = HERE) -> None:
    """Compile COMPILED with mypyc into `native_dir` (replacing what was there)."""
    from mypyc.build import mypycify  # a dev dependency: needed to build, never to run
    from setuptools import Distribution

    src_root = sources.parent.parent  # .../src: module paths map to dotted names from here
    with tempfile.TemporaryDirectory(prefix="diagnosis-native-") as scratch:
        cwd = os.getcwd()
        os.chdir(src_root)
        try:
            paths = [str(Path("diagnosis", "analysis", f"{name}.py")) for name in COMPILED]
            paths.append(f"--cache-dir={Path(scratch, 'mypy')}")  # mypy options go here too
            extensions = mypycify(paths, opt_level="3", group_name=GROUP,
                                  target_dir=str(Path(scratch, "c")))
            distribution = Distribution({"name": "diagnosis-native", "ext_modules": extensions})
            command = distribution.get_command_obj("build_ext")
            command.build_lib = str(Path(scratch, "lib"))
            command.build_temp = str(Path(scratch, "tmp"))
            distribution.run_command("build_ext")
        finally:
            os.chdir(cwd)
        built = Path(scratch, "lib", "diagnosis", "analysis")
        staging = native_dir.with_name(native_dir.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for library in built.glob(f"*{_abi()}"):
            shutil.copy2(library, staging / library.name)
        (staging / MANIFEST).write_text(json.dumps(manifest_for(sources, COMPILED), indent=1))
    shutil.rmtree(native_dir, ignore_errors=True)
    staging.rename(native_dir)


def main() -> int:
    try:
        build()
    except Exception as error:  # any failure leaves the Python source in use
        shutil.rmtree(NATIVE_DIR, ignore_errors=True)
        print(f"diagnosis: the compiled analysis was not built ({type(error).__name__}: "
              f"{error}); the analysis runs as Python", file=sys.stderr)
        return 0
    print(f"diagnosis: compiled analysis built in {NATIVE_DIR}", file=sys.stderr)
    return 0
