"""PRISMA 2020 flow diagram drawn from a search-flow record (one review version).

The layout follows the PRISMA 2020 flow diagram for new and updated systematic reviews that
search databases and registers (Page et al. 2021, BMJ 372:n71): identification, screening and
inclusion, with the records removed, excluded or not retrieved at each step on the right, and,
for an updated (living) review, a "previous studies" arm whose studies join the total. Studies
awaiting data (classification pending) branch off before inclusion.

Input is a mapping in the shape of one version's flow (:func:`analysis.living.prisma.flow_versions`)::

    identified: [{source: str, records: int}, ...]
    duplicates_removed, screened, excluded_screening, reports_sought,
    reports_not_retrieved, assessed: int
    excluded_fulltext: [{reason: str, n: int}, ...]
    awaiting_data, included_new, included_total: int
    version, search_date (optional, shown in the title)
    removed_before_screening: [{reason: str, n: int}, ...]  (optional; else duplicates)
    awaiting_screening, ongoing: int  (optional; shown when above 0)
    heading: str  (optional; the identification column's heading)
    excluded_screening_reasons: [{reason: str, n: int}, ...]  (optional; records excluded by reason)
    awaiting_classification: int and awaiting_classification_reasons: [{reason, n}, ...]
        (optional; reports assessed whose eligibility is not settled, shown when above 0)
    reports_included, reports_included_total: int  (optional; PRISMA 2020 counts the reports of
        the included studies apart from the studies)
    included_by_set: [{label: str, n: int}, ...]  (optional; the included studies per study set)

Every number in the figure is read from that mapping; none is added up or derived here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from analysis.book.plots import _style as st

__all__ = ["COUNT_KEYS", "prisma_flow", "prisma_flow_alt_text"]

#: Keys holding a single count (non-negative integer).
COUNT_KEYS = (
    "duplicates_removed",
    "screened",
    "excluded_screening",
    "reports_sought",
    "reports_not_retrieved",
    "assessed",
    "awaiting_data",
    "included_new",
    "included_total",
)

_FONT = st.FONT_SIZE - 0.5
_LINE = _FONT * 1.32 / 72  # inches per text line
_PAD = 0.1  # inches of padding inside a box
_GAP = 0.38  # inches between rows of boxes
_COL_GAP = 0.4  # inches between columns
_PHASE_W = 0.34  # width of the phase bars on the left
_MAIN_W, _SIDE_W, _PREV_W = 3.0, 3.0, 2.1
_NBSP = "\u00a0"


def _text_width(text: str) -> float:
    """Width of ``text`` in points in the diagram's font (measured, not estimated)."""
    renderer = RendererAgg(10, 10, 72)  # at 72 dpi one pixel is one point
    with st.style():
        prop = FontProperties(size=_FONT)
        width, _, _ = renderer.get_text_width_height_descent(text, prop, ismath=False)
    return float(width)


def _wrap(text: str, room: float, indent: str, hanging: str) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``room`` points wide."""
    lines: list[str] = []
    line = indent
    for word in text.split(" "):
        trial = f"{line} {word}" if line.strip() else f"{line}{word}"
        if line.strip() and _text_width(trial) > room:
            lines.append(line)
            line = f"{hanging}{word}"
        else:
            line = trial
    lines.append(line)
    return lines


# --------------------------------------------------------------------------- checks


def _where(flow: Mapping[str, Any]) -> str:
    version = flow.get("version") if isinstance(flow, Mapping) else None
    return f"search flow version {version!r}" if version else "search flow"


def _count(flow: Mapping[str, Any], key: str, where: str) -> int:
    if key not in flow:
        msg = f"{where}: the key {key!r} is missing"
        raise ValueError(msg)
    value = flow[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"{where}: {key!r} must be a non-negative integer (got {value!r})"
        raise ValueError(msg)
    return value


def _pairs(
    flow: Mapping[str, Any], key: str, name: str, num: str, where: str
) -> list[tuple[str, int]]:
    if key not in flow:
        msg = f"{where}: the key {key!r} is missing"
        raise ValueError(msg)
    items = flow[key]
    if items is None:
        items = []
    if not isinstance(items, list):
        msg = f"{where}: {key!r} must be a list of {{{name}: ..., {num}: ...}} (got {items!r})"
        raise TypeError(msg)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or name not in item or num not in item:
            msg = f"{where}: {key}[{i}] must have the keys {name!r} and {num!r} (got {item!r})"
            raise ValueError(msg)
        text = str(item[name]).strip()
        if not text:
            msg = f"{where}: {key}[{i}].{name} is empty"
            raise ValueError(msg)
        out.append((text, _count(item, num, f"{where}: {key}[{i}]")))
    return out


#: Optional keys holding a single count, read when present.
OPTIONAL_COUNT_KEYS = ("awaiting_classification", "reports_included", "reports_included_total")

#: Optional keys holding a list of (name, count) pairs, read when present.
OPTIONAL_LISTS = {
    "excluded_screening_reasons": ("reason", "n"),
    "awaiting_classification_reasons": ("reason", "n"),
    "included_by_set": ("label", "n"),
}


@dataclass(frozen=True)
class _Flow:
    identified: list[tuple[str, int]]
    excluded_fulltext: list[tuple[str, int]]
    counts: dict[str, int]
    version: str | None
    search_date: str | None
    heading: str | None = None
    optional: dict[str, int] = field(default_factory=dict)
    lists: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def _read(flow: Mapping[str, Any], what: str = "") -> _Flow:
    if not isinstance(flow, Mapping):
        msg = f"the search flow{what} must be a mapping (got {type(flow).__name__})"
        raise TypeError(msg)
    where = _where(flow) + what
    identified = _pairs(flow, "identified", "source", "records", where)
    if not identified:
        msg = f"{where}: 'identified' lists no source"
        raise ValueError(msg)
    return _Flow(
        identified=identified,
        excluded_fulltext=_pairs(flow, "excluded_fulltext", "reason", "n", where),
        counts={key: _count(flow, key, where) for key in COUNT_KEYS},
        version=str(flow["version"]) if flow.get("version") is not None else None,
        search_date=str(flow["search_date"]) if flow.get("search_date") is not None else None,
        heading=str(flow["heading"]) if flow.get("heading") else None,
        optional={key: _count(flow, key, where) for key in OPTIONAL_COUNT_KEYS if key in flow},
        lists={key: _pairs(flow, key, name, num, where)
               for key, (name, num) in OPTIONAL_LISTS.items() if key in flow},
    )


def _lines(pairs: list[tuple[str, int]]) -> str:
    """One indented line per (name, count) pair, each on its own line after a newline."""
    return "".join(f"\n   {name} {_n(num)}" for name, num in pairs)


def _texts(f: _Flow) -> dict[str, str]:
    """The texts of the boxes that optional keys extend (records excluded, reports excluded, studies)."""
    c, o, lists = f.counts, f.optional, f.lists
    if f.excluded_fulltext:
        excluded = "Reports excluded:" + _lines(f.excluded_fulltext)
    else:
        excluded = "Reports excluded: none"
    if o.get("awaiting_classification"):
        excluded += (f"\nReports awaiting classification {_n(o['awaiting_classification'])}"
                     + _lines(lists.get("awaiting_classification_reasons", [])))
    new = f"New studies included in review {_n(c['included_new'])}"
    if "reports_included" in o:
        new += f"\nReports of new included studies {_n(o['reports_included'])}"
    total = f"Total studies included in review {_n(c['included_total'])}" + _lines(
        lists.get("included_by_set", []))
    if "reports_included_total" in o:
        total += f"\nReports of total included studies {_n(o['reports_included_total'])}"
    return {
        "screened_out": f"Records excluded {_n(c['excluded_screening'])}"
        + _lines(lists.get("excluded_screening_reasons", [])),
        "excluded": excluded,
        "new": new,
        "total": total,
    }


# --------------------------------------------------------------------------- drawing


@dataclass
class _Box:
    text: str
    x: float  # left edge, inches
    width: float
    bold_first: bool = False
    fill: str = "white"
    y: float = 0.0  # top edge, set by the layout
    height: float = 0.0

    def wrapped(self) -> str:
        """The text broken into lines that fit the box (measured in the box's font)."""
        room = (self.width - 2 * _PAD) * 72  # points
        lines = []
        for paragraph in self.text.split("\n"):
            indent = "   " if paragraph.startswith("   ") else ""
            lines += _wrap(paragraph.strip(), room, indent, indent + "  ")
        return "\n".join(lines)

    def measure(self) -> float:
        self.height = self.wrapped().count("\n") * _LINE + _LINE + 2 * _PAD
        return self.height

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y - self.height

    @property
    def mid(self) -> float:
        return self.y - self.height / 2


def _draw_box(ax: Axes, box: _Box) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (box.x, box.bottom),
            box.width,
            box.height,
            boxstyle="round,pad=0,rounding_size=0.06",
            facecolor=box.fill,
            edgecolor=st.INK,
            linewidth=1.0,
        )
    )
    ax.text(
        box.x + _PAD,
        box.y - _PAD,
        box.wrapped(),
        ha="left",
        va="top",
        fontsize=_FONT,
        linespacing=1.32,
        color=st.INK,
    )


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            color=st.INK,
            linewidth=1.0,
            shrinkA=0,
            shrinkB=0,
        )
    )


def _n(value: int) -> str:
    """``(n = 12)`` with non-breaking spaces, so a count is never split across lines."""
    return f"(n{_NBSP}={_NBSP}{value})"


def prisma_flow(flow: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> Figure:
    """Draw the PRISMA 2020 flow diagram of one review version.

    Parameters
    ----------
    flow : mapping
        One version entry of the search-flow record (keys in the module docstring).
    previous : mapping, optional
        The previous version's entry. When given, a "Previous studies" arm shows the studies
        included in that version (its ``included_total``) flowing into this version's total.
        Without it the diagram is the template for a new review.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        A key is missing, a count is not a non-negative integer, or a list entry is malformed
        (the message names the version, key and value).
    """
    f = _read(flow)
    prev = _read(previous, " (previous version)") if previous is not None else None
    c = f.counts

    x0 = _PHASE_W + 0.2
    prev_x = x0
    main_x = x0 + (_PREV_W + _COL_GAP if prev else 0.0)
    side_x = main_x + _MAIN_W + _COL_GAP
    width = side_x + _SIDE_W + 0.1

    sources = "\n".join(f"   {src} {_n(num)}" for src, num in f.identified)
    text = _texts(f)
    removed_list = flow.get("removed_before_screening")
    if removed_list:
        removed = "\n".join(f"   {r['reason']} {_n(int(r['n']))}" for r in removed_list)
    else:
        removed = f"   Duplicate records removed {_n(c['duplicates_removed'])}"
    waiting = int(flow.get("awaiting_screening") or 0)
    pending = f"\nRecords awaiting screening {_n(waiting)}" if waiting else ""
    registered = int(flow.get("ongoing") or 0)
    ongoing = f"\nOngoing studies (registered) {_n(registered)}" if registered else ""
    rows: list[tuple[str, list[_Box]]] = [
        (
            "identification",
            [
                _Box(f"Records identified from:\n{sources}", main_x, _MAIN_W),
                _Box("Records removed before screening:\n" + removed, side_x, _SIDE_W),
            ],
        ),
        (
            "screening",
            [
                _Box(f"Records screened {_n(c['screened'])}", main_x, _MAIN_W),
                _Box(text["screened_out"] + pending, side_x, _SIDE_W),
            ],
        ),
        (
            "screening",
            [
                _Box(f"Reports sought for retrieval {_n(c['reports_sought'])}", main_x, _MAIN_W),
                _Box(f"Reports not retrieved {_n(c['reports_not_retrieved'])}", side_x, _SIDE_W),
            ],
        ),
        (
            "screening",
            [
                _Box(f"Reports assessed for eligibility {_n(c['assessed'])}", main_x, _MAIN_W),
                _Box(text["excluded"], side_x, _SIDE_W),
            ],
        ),
        (
            "included",
            [
                _Box(
                    text["new"],
                    main_x,
                    _MAIN_W,
                    fill="#EEF4FA",
                ),
                _Box(f"Studies awaiting data {_n(c['awaiting_data'])}" + ongoing, side_x, _SIDE_W),
            ],
        ),
        (
            "included",
            [
                _Box(
                    text["total"],
                    main_x,
                    _MAIN_W,
                    fill="#DCE9F5",
                )
            ],
        ),
    ]
    prev_box = None
    if prev:
        prev_box = _Box(
            f"Studies included in previous version of review {_n(prev.counts['included_total'])}",
            prev_x,
            _PREV_W,
        )

    # layout, top down, in inches from the top (y negative downwards, flipped at the end)
    header_h = 0.5
    title_h = 0.45 if (f.version or f.search_date) else 0.0
    y = -(title_h + header_h)
    phases: dict[str, list[float]] = {}
    for phase, boxes in rows:
        h = max(b.measure() for b in boxes)
        for b in boxes:
            b.y, b.height = y, h
        if prev_box is not None and phase == "identification":
            prev_box.measure()
            prev_box.y = y
        span = phases.setdefault(phase, [y, y - h])
        span[1] = y - h
        y -= h + _GAP
    height = -(y + _GAP) + 0.15

    with st.style():
        fig = st.new_figure(width, height)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(-height, 0)
        ax.set_axis_off()
        _draw_headers(ax, f, main_x, side_x, prev_x if prev else None, title_h, header_h)
        _draw_phases(ax, phases)
        all_boxes = [b for _, boxes in rows for b in boxes]
        for b in all_boxes:
            _draw_box(ax, b)
        main = [boxes[0] for _, boxes in rows]
        for upper, lower in itertools.pairwise(main):
            _arrow(ax, (upper.cx, upper.bottom), (lower.cx, lower.y))
        for _, boxes in rows:
            if len(boxes) == 2:
                _arrow(ax, (boxes[0].x + boxes[0].width, boxes[0].mid), (boxes[1].x, boxes[1].mid))
        if prev_box is not None:
            _draw_box(ax, prev_box)
            total = main[-1]
            # down the previous arm, then right into the total box
            ax.plot([prev_box.cx, prev_box.cx], [prev_box.bottom, total.mid], color=st.INK, lw=1.0)
            _arrow(ax, (prev_box.cx, total.mid), (total.x, total.mid))
    return st.release(fig)


def _draw_headers(
    ax: Axes,
    f: _Flow,
    main_x: float,
    side_x: float,
    prev_x: float | None,
    title_h: float,
    header_h: float,
) -> None:
    if title_h:
        parts = []
        if f.version:
            parts.append(f"Version {f.version}")
        if f.search_date:
            parts.append(f"search of {f.search_date}")
        ax.text(
            _PHASE_W + 0.2,
            -0.08,
            ", ".join(parts),
            ha="left",
            va="top",
            fontsize=_FONT + 1,
            fontweight="bold",
            color=st.INK,
        )
    top = -title_h
    heads = [
        (
            main_x,
            side_x + _SIDE_W - main_x,
            str(f.heading or "Identification of new studies via databases and registers"),
        )
    ]
    if prev_x is not None:
        heads.append((prev_x, _PREV_W, "Previous studies"))
    for x, w, text in heads:
        ax.add_patch(
            FancyBboxPatch(
                (x, top - header_h + 0.1),
                w,
                header_h - 0.18,
                boxstyle="round,pad=0,rounding_size=0.06",
                facecolor=st.LIGHT if x == prev_x else "#F6D78B",
                edgecolor="none",
            )
        )
        ax.text(
            x + w / 2,
            top - header_h / 2 + 0.01,
            text,
            ha="center",
            va="center",
            fontsize=_FONT,
            fontweight="bold",
            color=st.INK,
            wrap=True,
        )


def _draw_phases(ax: Axes, phases: dict[str, list[float]]) -> None:
    for phase, (top, bottom) in phases.items():
        ax.add_patch(
            FancyBboxPatch(
                (0.1, bottom),
                _PHASE_W,
                top - bottom,
                boxstyle="round,pad=0,rounding_size=0.06",
                facecolor="#A8CBE8",
                edgecolor="none",
            )
        )
        ax.text(
            0.1 + _PHASE_W / 2,
            (top + bottom) / 2,
            phase.capitalize(),
            rotation=90,
            ha="center",
            va="center",
            fontsize=_FONT,
            fontweight="bold",
            color=st.INK,
        )


def prisma_flow_alt_text(flow: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> str:
    """Alt text for :func:`prisma_flow`: every count of the diagram in reading order."""
    f = _read(flow)
    c = f.counts
    head = "PRISMA 2020 flow diagram"
    if f.version:
        head += f" for version {f.version}"
    if f.search_date:
        head += f" (search of {f.search_date})"
    sources = "; ".join(f"{src}: {num}" for src, num in f.identified)
    if f.excluded_fulltext:
        reasons = "; ".join(f"{why}: {num}" for why, num in f.excluded_fulltext)
        excluded = f"reports excluded with reasons ({reasons})"
    else:
        excluded = "no report excluded"
    o, lists = f.optional, f.lists

    def _listed(key: str) -> str:
        pairs = lists.get(key, [])
        return " (" + "; ".join(f"{name}: {num}" for name, num in pairs) + ")" if pairs else ""

    if o.get("awaiting_classification"):
        excluded += f", {o['awaiting_classification']} awaiting classification" + _listed(
            "awaiting_classification_reasons")
    parts = [
        f"{head}. Records identified from {len(f.identified)} source(s) ({sources})",
        (", ".join(f"{r['n']} {str(r['reason']).lower()} removed" for r in flow["removed_before_screening"])
         if flow.get("removed_before_screening") else f"{c['duplicates_removed']} duplicate records removed"),
        f"{c['screened']} records screened, {c['excluded_screening']} excluded"
        + _listed("excluded_screening_reasons")
        + (f", {flow['awaiting_screening']} awaiting screening" if flow.get("awaiting_screening") else ""),
        f"{c['reports_sought']} reports sought for retrieval, {c['reports_not_retrieved']} not retrieved",
        f"{c['assessed']} reports assessed for eligibility, {excluded}",
        f"{c['awaiting_data']} studies awaiting data"
        + (f", {flow['ongoing']} ongoing registered studies" if flow.get("ongoing") else ""),
        f"{c['included_new']} new studies included"
        + (f" ({o['reports_included']} reports)" if "reports_included" in o else ""),
    ]
    if previous is not None:
        prev = _read(previous, " (previous version)")
        parts.append(f"{prev.counts['included_total']} studies included in the previous version")
    parts.append(f"{c['included_total']} studies included in total" + _listed("included_by_set")
                 + (f", with {o['reports_included_total']} reports" if "reports_included_total" in o else ""))
    return "; ".join(parts) + "."
