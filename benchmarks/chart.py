"""The benchmark's chart: client CPU per call against the raw SDK, sync and async, per provider.

    python benchmarks/chart.py RUN.json OUT.png    # from a saved --json of peers.py or overhead.py

``peers.py --chart PATH`` and ``overhead.py --chart PATH`` draw it at the end of a run. Each bar
is a side's median client CPU per call divided by the raw SDK's in the same process (so 1.0 is
the raw SDK, the dashed line; lower is cheaper), labelled with that ratio; one panel for sync calls and one for
async calls. Needs matplotlib (``benchmarks/requirements-peers.txt``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# Side -> (legend label, colour); the order of the bars in each group.
STYLE = {
    "raw": ("raw SDK", "#9e9e9e"),
    "alloy": ("Alloy", "#1565c0"),
    "instructor": ("instructor", "#ef6c00"),
    "pydantic_ai": ("pydantic-ai", "#2e7d32"),
    "magentic": ("magentic", "#6a1b9a"),
}


def ratios(saved: dict[str, Any]) -> dict[str, dict[str, tuple[float, float]]]:
    """``{provider: {side: (sync ratio, async ratio)}}`` to the raw SDK of the same process.

    Takes either layout: overhead.py's ``results[target][side]`` or peers.py's
    ``results[provider][environment][side]`` (each environment with its own raw SDK). A side met
    in several environments (Alloy) is taken from the first.
    """
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for provider, value in saved["results"].items():
        groups = [value] if "raw" in value else list(value.values())
        row = out.setdefault(provider, {})
        for sides in groups:
            raw = sides["raw"]
            for side, m in sides.items():
                if side in STYLE and side not in row:
                    row[side] = (m["sync_cpu"] / raw["sync_cpu"], m["async_cpu"] / raw["async_cpu"])
    return out


def draw(saved: dict[str, Any], path: Path) -> None:
    """Draw the chart of *saved* (a run's ``--json`` content) as a PNG at *path*."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = ratios(saved)
    providers = list(table)
    sides = [s for s in STYLE if any(s in table[p] for p in providers)]
    width = 0.8 / len(sides)
    top = max(max(r) for row in table.values() for r in row.values())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    concurrency = saved.get("concurrency", 64)
    for panel, (ax, title) in enumerate(
        zip(axes, ("sync calls", f"async calls (concurrency {concurrency})"), strict=True)
    ):
        for i, side in enumerate(sides):
            xs = [p + (i - (len(sides) - 1) / 2) * width for p in range(len(providers))]
            ys = [table[p][side][panel] if side in table[p] else 0.0 for p in providers]
            label, colour = STYLE[side]
            bars = ax.bar(xs, ys, width * 0.92, label=label, color=colour)
            for bar, y in zip(bars, ys, strict=True):
                if y and side != "raw":  # the raw SDK is 1.00x: the dashed line
                    ax.annotate(
                        f"{y:.2f}x",
                        (bar.get_x() + bar.get_width() / 2, y),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        xytext=(0, 2),
                        textcoords="offset points",
                    )
        ax.axhline(1.0, color="#616161", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(providers)), providers)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, top * 1.15)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("client CPU per call / raw SDK (lower is cheaper)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(sides), frameon=False, fontsize=9)
    fig.suptitle("Client CPU per typed call against the raw SDK (fake server, same workload)", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a saved --json of peers.py or overhead.py")
    parser.add_argument("out", type=Path, help="the PNG to write")
    args = parser.parse_args()
    draw(json.loads(args.run.read_text()), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
