"""The suite's outputs: the JSON record (machine, versions, results) and the terminal table."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any

from .harness import CORES_MARGIN, CaseResult, Settings
from .peers import SETTINGS, version

SCHEMA = 1
LIBRARIES = ("adjit", "numpy", "llvmlite", "torch", "jax", "jaxlib", "matplotlib")
# how a measurement that was not timed shows in the table
STATUS_CELL = {
    "disagrees": "DISAGREES",
    "failed": "failed",
    "unavailable": "n/a",
    "skipped": "skipped",
}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    from llvmlite import binding as llvm

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "llvm_host_cpu": llvm.get_host_cpu_name(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def build(
    results: dict[str, list[CaseResult]],
    titles: dict[str, str],
    settings: Settings,
    wall_s: float,
) -> dict[str, Any]:
    """The JSON-ready record of one run."""
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "preset": settings.preset,
        "wall_s": round(wall_s, 1),
        "machine": machine() | {"load_average": [round(x, 2) for x in os.getloadavg()]},
        "versions": {lib: version(lib) for lib in LIBRARIES},
        "settings": {
            "timing": dataclasses.asdict(settings.timing),
            "skip": settings.skip,
            "latency_repeats": settings.latency_repeats,
            "threads": SETTINGS["threads"],
            "processes": "one a contender" if settings.isolate else "one for all",
        },
        "ratio": "contender median / adjit compiled median (> 1: adjit compiled is faster)",
        "workloads": {
            name: {"title": titles[name], "cases": [_case(c) for c in cases]}
            for name, cases in results.items()
        },
    }


def _case(c: CaseResult) -> dict[str, Any]:
    return {
        "label": c.label,
        "params": c.params,
        "baseline": c.baseline,
        "reference_error": c.reference_error,
        "contenders": {k: dataclasses.asdict(m) for k, m in c.measurements.items()},
    }


def write_json(data: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(data, indent=1, default=float) + "\n")


def fmt_ms(ms: float) -> str:
    """A duration with a readable unit."""
    if ms < 1:
        return f"{ms * 1e3:.1f} µs"
    if ms < 1000:
        return f"{ms:.3g} ms" if ms < 100 else f"{ms:.0f} ms"
    return f"{ms / 1e3:.2f} s"


def _cell(name: str, m: dict[str, Any], baseline: str) -> str:
    if m["status"] in STATUS_CELL:
        return STATUS_CELL[m["status"]]
    if name == baseline:
        return f"{fmt_ms(m['median_ms'])} ±{fmt_ms(m['iqr_ms'] or 0.0)}"
    return f"{m['ratio']:.2f}x"


def workload_table(name: str, w: dict[str, Any], threads: int) -> list[str]:
    """One workload: a row per size, the baseline's median, then each contender's ratio."""
    cases = w["cases"]
    columns = list(dict.fromkeys(k for c in cases for k in c["contenders"]))
    rows = [["", *columns]]
    for c in cases:
        cells = [
            _cell(k, c["contenders"][k], c["baseline"]) if k in c["contenders"] else ""
            for k in columns
        ]
        rows.append([c["label"], *cells])
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns) + 1)]
    lines = [f"{name}: {w['title']}"]
    for r in rows:
        first, base, rest = r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2:]
        others = "  ".join(cell.rjust(wd) for cell, wd in zip(rest, widths[2:], strict=True))
        lines.append(f"  {first}  {base} | {others}")
    return lines + _notes(cases, threads)


def _notes(cases: list[dict[str, Any]], threads: int) -> list[str]:
    """Why cells are not ratios, the agreement errors, floors, import times and contenders
    that kept more cores busy than the thread count (Note [cores used])."""
    notes: dict[str, None] = {}
    errors = [m["error"] for c in cases for m in c["contenders"].values() if m["status"] == "ok"]
    refs = [c["reference_error"] for c in cases if c["reference_error"] is not None]
    if errors:
        check = f"    checked before timing: all agree within {max(errors):.1e}"
        notes[check + (f" (adjit vs float64 NumPy: {max(refs):.1e})" if refs else "")] = None
    for c in cases:
        base = c["contenders"][c["baseline"]].get("median_ms")
        for k, m in c["contenders"].items():
            if m["status"] in ("disagrees", "failed"):
                notes[f"    ! {c['label']} {k} {m['status']}: {m['note']}"] = None
            elif m["status"] in ("unavailable", "skipped"):
                notes[f"    - {k}: {m['note']}"] = None
            elif m["status"] == "floor" and base:
                notes[f"    {c['label']}: adjit compiled / {k} = {base / m['median_ms']:.2f}"] = (
                    None
                )
        for k, m in c["contenders"].items():
            used = m.get("extra", {}).get("cores")
            if used is not None and used > threads + CORES_MARGIN:
                notes[
                    f"    ! {c['label']} {k} kept {used:.2f} cores busy ({_threads(threads)} "
                    "allowed): not a fair comparison"
                ] = None
        imports = [
            f"{k} {fmt_ms(m['extra']['import_ms'])}"
            for k, m in c["contenders"].items()
            if "import_ms" in m["extra"]
        ]
        if imports:
            notes[f"    {c['label']}, import times: {', '.join(imports)}"] = None
    return list(notes)


def _threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")


def _processes(settings: dict[str, Any]) -> str:
    """How the contenders were run (older records: unsaid)."""
    if settings.get("processes") == "one a contender":
        return ", each in a process of its own"
    return ", all in one process" if "processes" in settings else ""


def table(data: dict[str, Any]) -> str:
    """The terminal ratio table of a run record (``build``'s output, or a loaded JSON)."""
    m = data["machine"]
    head = [
        f"adjit bench ({data['preset']}): {m['cpu']}, {m['cores']} cores, "
        f"{data['wall_s']:.0f} s wall; {_threads(data['settings']['threads'])} for every "
        f"contender{_processes(data['settings'])}; "
        f"load average at the end {m.get('load_average')}",
        "first column: adjit compiled's median ±IQR; others: their median / adjit compiled's "
        "(> 1: adjit compiled is faster); every median and IQR is in the JSON",
    ]
    body = [
        line
        for name, w in data["workloads"].items()
        for line in ["", *workload_table(name, w, data["settings"]["threads"])]
    ]
    return "\n".join(head + body)
