"""The compiled analysis (diagnosis/analysis/native.py) gives what its Python source gives, and
is used only while its build matches that source.

The rest of the suite runs the Python source (tests/conftest.py sets DIAGNOSIS_NATIVE_ANALYSIS=0
so that call-counting tests see Python functions); here two subprocesses analyse the same
corpus, one compiled and one not, and every output must be equal. Without a build (`make
install` makes one) the comparison skips with one line, and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench.answers import LONG_ANSWER, SHORT_ANSWER

from diagnosis.analysis import native

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]
LABELLED = ("labelled_dev.json", "labelled_test.json", "labelled_answers.json")
BENCH_BRANDS = [{"name": "蔚来", "aliases": ["NIO"], "is_own": True, "domains": ["nio.com"]},
                {"name": "理想", "aliases": [], "is_own": False, "domains": []},
                {"name": "小鹏", "aliases": ["XPeng"], "is_own": False,
                 "domains": ["xiaopeng.com"]}]
CITATIONS = [{"url": "https://www.nio.com/es8", "title": "ES8"},
             {"url": "https://www.autohome.com.cn/article/1"}]


def _corpus() -> list[dict[str, Any]]:
    """The labelled answers, the bench's, and recombinations of their lines (shuffled,
    cut, joined across answers and languages), with awkward text the fuzzers found."""
    cases: list[dict[str, Any]] = []
    answers = [a for name in LABELLED for a in json.loads((DATA / name).read_text())]
    for answer in answers:
        brands = [{**b, "domains": []} for b in answer["brands"]]
        cases.append({"text": answer["text"], "brands": brands, "citations": []})
    for text in (SHORT_ANSWER, LONG_ANSWER, LONG_ANSWER * 30, "", "   ", "蔚来", "NIO NIO nio",
                 "1. 蔚来\n" * 500, "| 蔚来 | 理想 |\n|---|---|\n| 好 | 差 |", "\ufffd蔚来\ufffd"):
        cases.append({"text": text, "brands": BENCH_BRANDS, "citations": CITATIONS})
    rng = random.Random(13)
    lines = [line for a in answers for line in a["text"].split("\n")]
    for _ in range(1500):
        donor = rng.choice(answers)
        picked = rng.sample(lines, rng.randint(1, 12)) + donor["text"].split("\n")
        rng.shuffle(picked)
        text = rng.choice(("\n", "\n\n", " ", "")).join(picked)
        if rng.random() < 0.3:
            text = text[rng.randint(0, len(text)):]
        brands = [{**b, "domains": []} for b in donor["brands"]]
        cases.append({"text": text, "brands": brands,
                      "citations": CITATIONS if rng.random() < 0.2 else []})
    return cases


def _analyse(corpus: list[dict[str, Any]], *, native_on: bool) -> dict[str, Any]:
    env = {**os.environ, native.ENV: "1" if native_on else "0"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.analysis.native_outputs"], cwd=ROOT, env=env,
        input=json.dumps(corpus, ensure_ascii=False), capture_output=True, text=True,
        timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_compiled_analysis_gives_what_the_python_source_gives() -> None:
    if not native.matches(native.NATIVE_DIR, native.HERE):
        message = ("no compiled analysis matching the sources in "
                   f"{native.NATIVE_DIR} (make install builds it)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    corpus = _corpus()
    compiled, source = _analyse(corpus, native_on=True), _analyse(corpus, native_on=False)
    # the compiled modules were loaded, and only where asked
    assert compiled["native"] and not source["native"]
    assert sorted(compiled["files"]) == sorted(native.COMPILED)
    assert all(not f.endswith(".py") for f in compiled["files"].values())
    assert all(f.endswith(".py") for f in source["files"].values())
    # every answer analysed alike (mentions with rank, tone, stance, count; sources) and the
    # report's discovered brands alike, answer by answer and over all
    assert len(compiled["outputs"]) == 2 * len(corpus) + 1
    differing = [i for i, (a, b) in enumerate(zip(compiled["outputs"], source["outputs"],
                                                   strict=True)) if a != b]
    assert not differing, (f"{len(differing)} outputs differ, first: "
                           f"{corpus[min(differing[0] // 2, len(corpus) - 1)]}")
    analyses, discovered = source["outputs"][:-1:2], source["outputs"][1:-1:2]
    assert sum(bool(out["mentions"]) for out in analyses) > len(corpus) // 2
    assert sum(bool(out) for out in discovered) > len(corpus) // 4
    assert len(source["outputs"][-1]) > 10


def _build(tmp_path: Path, modules: tuple[str, ...] = ("text", "rank")) -> tuple[Path, Path]:
    """A fake build of `modules` in tmp_path: sources, their libraries and the manifest."""
    sources, built = tmp_path / "src", tmp_path / "native"
    sources.mkdir()
    built.mkdir()
    for name in modules:
        (sources / f"{name}.py").write_text(f"NAME = {name!r}\n")
        (built / f"{name}{native._abi()}").write_bytes(b"")
    (built / native.MANIFEST).write_text(json.dumps(native.manifest_for(sources, modules)))
    return built, sources


def test_a_build_of_the_current_sources_goes_first_on_the_package_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(native.ENV, raising=False)
    built, sources = _build(tmp_path)
    path = [str(sources)]
    assert native.enable(path, built, sources)
    assert path == [str(built), str(sources)]
    assert native.enable(path, built, sources) and path.count(str(built)) == 1


@pytest.mark.parametrize("change", ["edited source", "missing library", "broken manifest",
                                    "other python", "switched off"])
def test_a_build_that_does_not_match_its_sources_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str,
) -> None:
    monkeypatch.delenv(native.ENV, raising=False)
    built, sources = _build(tmp_path)
    if change == "edited source":
        (sources / "rank.py").write_text("NAME = 'edited'\n")
    elif change == "missing library":
        (built / f"rank{native._abi()}").unlink()
    elif change == "broken manifest":
        (built / native.MANIFEST).write_text("{not json")
    elif change == "other python":
        manifest = json.loads((built / native.MANIFEST).read_text())
        (built / native.MANIFEST).write_text(json.dumps({**manifest, "abi": ".cpython-39.so"}))
    else:
        monkeypatch.setenv(native.ENV, "0")
    path = [str(sources)]
    assert not native.enable(path, built, sources)
    assert path == [str(sources)]


def test_the_start_up_log_says_which_analysis_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(native.ENV, raising=False)
    assert native.describe(True) == "compiled (mypyc)"
    assert "make install" in native.describe(False)
    monkeypatch.setenv(native.ENV, "off")
    assert native.describe(False) == "Python (DIAGNOSIS_NATIVE_ANALYSIS=0)"
