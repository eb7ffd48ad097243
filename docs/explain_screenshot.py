"""Make docs/explain_html.png: README's first example as ``explain(...).to_html`` draws it.

Run from the repository root (needs Graphviz's dot and Chromium):
``python docs/explain_screenshot.py`` (``--html PATH`` keeps the page too).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import adjit
import adjit as torch


@adjit.compile  # trace -> IR -> adjoint -> fused LLVM kernels
def loss(w, x, y):
    return ((x @ w).sigmoid() - y).pow(2).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/explain_html.png")
    parser.add_argument("--html", help="also keep the page here")
    parser.add_argument("--size", default="1400,860", help="the browser window, W,H")
    args = parser.parse_args()
    torch.manual_seed(0)
    w = torch.randn(8, 1, requires_grad=True)
    x, y = torch.randn(64, 8), torch.rand(64, 1)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(args.html or Path(tmp) / "explain.html").resolve()
        adjit.explain(loss, w, x, y).to_html(page)
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={Path(tmp) / 'profile'}",
                f"--window-size={args.size}",
                f"--screenshot={Path(args.out).resolve()}",
                f"{page.as_uri()}#view=backward&select=backward_k_k1",
            ],  # fmt: skip
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
