"""The PNG chart of a run: per workload, each contender's ratio to adjit compiled, by size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .contenders import NAMES
from .harness import BASELINE

NO_MATPLOTLIB = "matplotlib is not installed: no PNG chart (pip install 'adjit[bench]')"


def write_png(data: dict[str, Any], path: str | Path) -> str | None:
    """Draw the chart into ``path``; returns why not (matplotlib missing) or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return NO_MATPLOTLIB
    workloads = data["workloads"]
    fig, axes = plt.subplots(len(workloads), 1, figsize=(10, 3 * len(workloads) + 1), squeeze=False)
    names = [n for w in workloads.values() for c in w["cases"] for n in c["contenders"]]
    palette = plt.get_cmap("tab10").colors
    colors = {n: palette[i % len(palette)] for i, n in enumerate(dict.fromkeys([*NAMES, *names]))}
    for ax, (name, w) in zip(axes[:, 0], workloads.items(), strict=True):
        _bars(ax, name, w, colors)
    handles = {h.get_label(): h for ax in axes[:, 0] for h in ax.get_legend_handles_labels()[0]}
    m = data["machine"]
    title = f"adjit bench ({data['preset']}) on {m['cpu']}, {m['cores']} cores"
    fig.legend(handles.values(), handles.keys(), loc="upper center", ncol=4, title=title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 1.1 / fig.get_figheight()))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def _bars(ax: Any, name: str, w: dict[str, Any], colors: dict[str, Any]) -> None:
    """Grouped bars from 1 (log scale): one group per size, one bar per timed contender."""
    cases = w["cases"]
    names = [n for n in dict.fromkeys(k for c in cases for k in c["contenders"]) if n != BASELINE]
    width = 0.8 / max(len(names), 1)
    for j, k in enumerate(names):
        xs, ys = [], []
        for i, c in enumerate(cases):
            ratio = c["contenders"].get(k, {}).get("ratio")
            if ratio:
                xs.append(i + (j - (len(names) - 1) / 2) * width)
                ys.append(ratio)
        ax.bar(xs, [y - 1 for y in ys], width, bottom=1, label=k, color=colors[k])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)), [c["label"] for c in cases])
    ax.set_ylabel(f"time / {BASELINE}")
    ax.set_title(f"{name}: {w['title']}", fontsize=10)
