"""Run by tests/analysis/test_native.py in a subprocess: the analysis of each answer of a corpus,
under this process's DIAGNOSIS_NATIVE_ANALYSIS (the compiled build or the Python source).

Reads [{"text", "brands": [{"name", "aliases", "is_own", "domains"}], "citations"}] as JSON on
stdin. Writes {"native": bool, "files": {module: file}, "outputs": [...]} on stdout: each
answer's analysis followed by its `discover_brands`, then one `discover_brands` over all.
"""

import json
import sys
from typing import Any

import diagnosis.analysis
from diagnosis.analysis import BrandSpec, analyze_answer
from diagnosis.analysis.discovery import discover_brands
from diagnosis.analysis.native import COMPILED


def _brands(case: dict[str, Any]) -> list[BrandSpec]:
    return [BrandSpec(b["name"], tuple(b["aliases"]), b["is_own"], tuple(b["domains"]))
            for b in case["brands"]]


def main() -> None:
    corpus = json.load(sys.stdin)
    outputs: list[object] = []
    for case in corpus:
        brands = _brands(case)
        outputs.append(analyze_answer(case["text"], brands, citations=case["citations"]))
        outputs.append(discover_brands([case["text"]], brands))
    # the report's discovery over many answers at once, for the first case's brands
    outputs.append(discover_brands([case["text"] for case in corpus], _brands(corpus[0]),
                                   top_n=50))
    files = {name: sys.modules[f"diagnosis.analysis.{name}"].__file__ for name in COMPILED
             if f"diagnosis.analysis.{name}" in sys.modules}
    json.dump({"native": diagnosis.analysis.NATIVE, "files": files, "outputs": outputs},
              sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
