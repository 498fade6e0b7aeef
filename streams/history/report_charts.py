"""The PNG charts of `aduan report` (matplotlib, drawn off-screen)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers: draw to files only

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from streams.history.report_tables import Responses, Tables


def draw(tables: Tables, responses: list[Responses], out: Path) -> list[Path]:
    """Every chart there is data for, as PNG files in `out`."""
    charts = [
        _stacked(
            tables.complaints_per_day, "Complaints per agency per day", out / "complaints.png"
        ),
        _stacked(
            tables.rejections_per_day, "Rejections per reason per day", out / "rejections.png"
        ),
        _verified_share(tables, out / "verified_share.png"),
        _multi_agency(tables, out / "agencies_per_complaint.png"),
        _latency(tables, out / "latency.png"),
        _responses(responses, out / "responses.png"),
    ]
    return [chart for chart in charts if chart is not None]


def _stacked(counts: Counter[tuple[str, str]], title: str, path: Path) -> Path | None:
    if not counts:
        return None
    days = sorted({day for day, _ in counts})
    series = sorted({name for _, name in counts})
    figure, axes = plt.subplots(figsize=(10, 5))
    bottom = [0] * len(days)
    for name in series:
        heights = [counts[day, name] for day in days]
        axes.bar(days, heights, bottom=bottom, label=name)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_title(title)
    axes.legend(fontsize="small", bbox_to_anchor=(1.01, 1), loc="upper left")
    axes.tick_params(axis="x", labelrotation=45)
    return _save(figure, path)


def _verified_share(tables: Tables, path: Path) -> Path | None:
    days = sorted(set(tables.verified_per_day) | set(tables.unverified_per_day))
    if not days:
        return None
    verified, unverified = tables.verified_per_day, tables.unverified_per_day
    shares = [verified[day] / (verified[day] + unverified[day]) for day in days]
    figure, axes = plt.subplots(figsize=(10, 4))
    axes.plot(days, shares, marker="o")
    axes.set_ylim(0, 1)
    axes.set_title("Share of verified authors among posts judged on their author")
    axes.tick_params(axis="x", labelrotation=45)
    return _save(figure, path)


def _multi_agency(tables: Tables, path: Path) -> Path | None:
    counts = tables.multi_agency()
    if not counts:
        return None
    figure, axes = plt.subplots(figsize=(6, 4))
    numbers = sorted(counts)
    axes.bar([str(n) for n in numbers], [counts[n] for n in numbers])
    axes.set_xlabel("agencies addressed (0: unrouted)")
    axes.set_ylabel("complaint posts")
    axes.set_title("Multi-agency complaints")
    return _save(figure, path)


def _latency(tables: Tables, path: Path) -> Path | None:
    values = [value for values in tables.latencies.values() for value in values]
    if not values:
        return None
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.hist(values, bins=50)
    axes.set_xlabel("seconds from mention to complaint in Kafka")
    axes.set_ylabel("complaints")
    axes.set_title("Routing latency")
    return _save(figure, path)


def _responses(responses: list[Responses], path: Path) -> Path | None:
    if not responses:
        return None
    agencies = [row.agency for row in responses]
    parts = [
        ("answered on time", "tab:green", [row.answered_on_time for row in responses]),
        ("answered late", "tab:orange", [row.answered - row.answered_on_time for row in responses]),
        ("open", "tab:blue", [row.open for row in responses]),
        ("overdue now", "tab:red", [row.overdue_now for row in responses]),
    ]
    figure, axes = plt.subplots(figsize=(10, 2 + 0.4 * len(agencies)))
    left = [0] * len(agencies)
    for label, colour, widths in parts:
        axes.barh(agencies, widths, left=left, label=label, color=colour)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.invert_yaxis()  # agencies read top to bottom in the table's order
    axes.set_xlabel("cases")
    axes.set_title("Answers to cases per agency")
    axes.legend(fontsize="small", bbox_to_anchor=(1.01, 1), loc="upper left")
    return _save(figure, path)


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
