"""The PNG chart of a run: per workload, each contender's median with its spread, and its ratio
to adjit compiled, by size; the memory floor as a line; untimed contenders marked."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

from .contenders import NAMES
from .harness import BASELINE

NO_MATPLOTLIB = "matplotlib is not installed: no PNG chart (pip install 'adjit[bench]')"
# how an untimed contender is marked on its bar's place
MARKS = {"disagrees": "DISAGREES", "failed": "failed", "unavailable": "n/a", "skipped": "skipped"}
MIN_BAR = 0.03  # the smallest drawn ratio bar, in log2 units: 1.00x still shows


def write_png(data: dict[str, Any], path: str | Path) -> str | None:
    """Draw the chart into ``path``; returns why not (matplotlib missing) or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return NO_MATPLOTLIB
    fig = figure(data, plt)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def figure(data: dict[str, Any], plt: Any) -> Any:
    """The chart as a matplotlib figure: per workload, medians (left) and ratios (right)."""
    workloads = data["workloads"]
    rows = max(len(workloads), 1)
    fig, axes = plt.subplots(rows, 2, figsize=(14, 3.2 * rows + 1.2), squeeze=False)
    names = [n for w in workloads.values() for c in w["cases"] for n in c["contenders"]]
    palette = plt.get_cmap("tab10").colors
    colors = {n: palette[i % len(palette)] for i, n in enumerate(dict.fromkeys([*NAMES, *names]))}
    for (left, right), (name, w) in zip(axes, workloads.items(), strict=False):
        _medians(left, name, w, colors)
        _ratios(right, name, w, colors)
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]}
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=5, title=title(data))
    fig.tight_layout(rect=(0, 0, 1, 1 - 1.2 / fig.get_figheight()))
    return fig


def title(data: dict[str, Any]) -> str:
    """The chart's title: preset, machine, and the thread count every contender had."""
    m = data.get("machine", {})
    threads = data.get("settings", {}).get("threads", "?")
    return (
        f"adjit bench ({data.get('preset')}) on {m.get('cpu')}, {m.get('cores')} cores: "
        f"{threads} thread{'s' if threads != 1 else ''} for every contender, "
        f"load average {m.get('load_average')}"
    )


def _contenders(cases: list[dict[str, Any]], baseline_too: bool) -> list[str]:
    """The contenders drawn as bars (not floors), in table order."""
    keys = dict.fromkeys(k for c in cases for k in c["contenders"])
    return [
        k
        for k in keys
        if (baseline_too or k != BASELINE)
        and not any(c["contenders"].get(k, {}).get("status") == "floor" for c in cases)
    ]


def _slots(
    cases: list[dict[str, Any]], baseline_too: bool
) -> tuple[float, list[tuple[float, str, dict[str, Any]]]]:
    """The bar width, and each drawn (x, contender, measurement): contenders side by side
    within each case's slot, in table order (cases a contender is absent from are left out)."""
    names = _contenders(cases, baseline_too)
    width = 0.8 / max(len(names), 1)
    slots = [
        (i + (j - (len(names) - 1) / 2) * width, k, c["contenders"][k])
        for j, k in enumerate(names)
        for i, c in enumerate(cases)
        if k in c["contenders"]
    ]
    return width, slots


def _mark(ax: Any, x: float, status: str, color: Any) -> None:
    """An untimed contender: an x at the axis floor and its status, written upward."""
    ax.annotate(
        MARKS.get(status, status),
        (x, 0),
        xycoords=("data", "axes fraction"),
        xytext=(0, 4),
        textcoords="offset points",
        rotation=90,
        ha="center",
        va="bottom",
        fontsize=7,
        color=color,
    )
    ax.plot([x], [0.02], marker="x", color=color, transform=ax.get_xaxis_transform())


FLOOR_STYLES = ("--", ":", "-.")  # one per floor of a workload, so the legend tells them apart


def _medians(ax: Any, name: str, w: dict[str, Any], colors: dict[str, Any]) -> None:
    """Absolute medians (log ms) with interquartile error bars; floors as black lines (dashed,
    dotted, ...: one style per floor)."""
    cases = w["cases"]
    width, slots = _slots(cases, baseline_too=True)
    for x, k, m in slots:
        if m.get("median_ms"):
            ax.bar(x, m["median_ms"], width, color=colors[k], label=k)
            iqr = m.get("iqr_ms") or 0.0
            lo = min(iqr / 2, m["median_ms"] * 0.99)
            ax.errorbar(x, m["median_ms"], yerr=[[lo], [iqr / 2]], color="black", lw=0.8)
        else:
            _mark(ax, x, m["status"], colors[k])
    floors = list(
        dict.fromkeys(
            k for c in cases for k, m in c["contenders"].items() if m["status"] == "floor"
        )
    )
    for i, c in enumerate(cases):
        for k, m in c["contenders"].items():
            if m.get("status") == "floor" and m.get("median_ms"):
                style = FLOOR_STYLES[floors.index(k) % len(FLOOR_STYLES)]
                ax.hlines(
                    m["median_ms"], i - 0.45, i + 0.45, colors="black", linestyles=style, label=k
                )
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)), [c["label"] for c in cases])
    ax.set_ylabel("median ms (bars: IQR)")
    ax.set_title(textwrap.fill(f"{name}: {w['title']}", 90), fontsize=9)


def _ratios(ax: Any, name: str, w: dict[str, Any], colors: dict[str, Any]) -> None:
    """Each contender's median / adjit compiled's, as bars from 1 on a log2 scale, labelled;
    a bar near 1x keeps a minimal height (MIN_BAR) so it stays visible."""
    cases = w["cases"]
    width, slots = _slots(cases, baseline_too=False)
    for x, k, m in slots:
        ratio = m.get("ratio")
        if not ratio:
            _mark(ax, x, m["status"], colors[k])
            continue
        h = math.log2(ratio)
        h = h if abs(h) >= MIN_BAR else math.copysign(MIN_BAR, h or 1.0)
        ax.bar(x, h, width, color=colors[k], label=k)
        ax.annotate(
            f"{ratio:.2f}x",
            (x, h),
            xytext=(0, 2 if h > 0 else -2),
            textcoords="offset points",
            ha="center",
            va="bottom" if h > 0 else "top",
            fontsize=7,
        )
    ax.axhline(0.0, color="black", linewidth=0.8)
    lo, hi = ax.get_ylim()
    ticks = range(math.floor(min(lo, -1)), math.ceil(max(hi, 1)) + 1)
    ax.set_yticks(list(ticks), [f"{2.0**t:g}x" for t in ticks])
    ax.set_xticks(range(len(cases)), [c["label"] for c in cases])
    ax.set_ylabel(f"time / {BASELINE} (> 1: adjit faster)")
    ax.set_title(f"{name}: ratio to {BASELINE}", fontsize=10)
