"""Throughput: boards per hour over the shift and what fails most, from the records, at a glance.

Two grouped queries on the records file (on the thread pool) and the plain arithmetic of
app/provisioning/throughput.py give the figures; pyqtgraph draws them: a stacked bar per hour (passed,
failed, cancelled) over the chosen window, and a failure Pareto by step and reason, most frequent
first, each bar labelled with its count and the cumulative share. The page refreshes itself while
it is shown, so a line lead can leave it on a second screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QPushButton, QVBoxLayout

from app.provisioning.events import Outcome
from app.provisioning.record_query import RecordFilter
from app.provisioning.throughput import ParetoBar, Throughput, bucket_seconds, failure_pareto, throughput
from app.ui.models.records_model import OUTCOME_COLOURS
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.panels import StatPanel
from app.workers.records_file import RecordsFile

WINDOWS = (
    ("Last 8 hours (a shift)", 8),
    ("Last 12 hours", 12),
    ("Last 24 hours", 24),
    ("Last 7 days", 24 * 7),
)
REFRESH_MS = 30_000
BAR_WIDTH = 0.8
PARETO_LABEL_CHARS = 110
PLOT_MIN_HEIGHT = 120


@dataclass(frozen=True)
class ShiftFigures:
    throughput: Throughput
    pareto: tuple[ParetoBar, ...]


class ThroughputPage(Page):
    title = "Throughput"
    icon = "throughput"
    order = 64  # after Records (62)
    refresh_interval_ms = REFRESH_MS

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.records = RecordsFile(context.data_dir)
        self.figures: ShiftFigures | None = None
        self._closed = False
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.window_box = QComboBox()
        for label, hours in WINDOWS:
            self.window_box.addItem(label, hours)
        self.window_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        layout.addWidget(
            PageHeader(
                "Throughput",
                "Boards per hour and what fails most, from this station's records.",
                self.window_box,
                self.refresh_button,
            )
        )
        panels = QGridLayout()
        self.panels = {
            name: StatPanel(name, detail)
            for name, detail in (
                ("Boards", "finished in the window"),
                ("Passed", ""),
                ("Failed", ""),
                ("Yield", "passed of passed + failed"),
                ("Boards per hour", "since the first board"),
                ("Best hour", ""),
            )
        }
        for column, panel in enumerate(self.panels.values()):
            panels.addWidget(panel, 0, column)
        layout.addLayout(panels)
        layout.addWidget(section_title("Boards per hour"))
        self.rate_plot = self._plot()
        self.rate_plot.setAxisItems({"bottom": pg.DateAxisItem(orientation="bottom")})
        self.rate_plot.setLabel("left", "boards")
        self.rate_plot.addLegend(offset=(10, 5), colCount=3)
        layout.addWidget(self.rate_plot, 3)
        layout.addWidget(section_title("Failures by step and reason"))
        self.pareto_plot = self._plot()
        self.pareto_plot.getAxis("left").setTicks([[]])
        self.pareto_plot.setLabel("bottom", "failed boards")
        layout.addWidget(self.pareto_plot, 3)
        self.empty_label = QLabel("")
        self.empty_label.setObjectName("hint")
        layout.addWidget(self.empty_label)

    def _plot(self) -> pg.PlotWidget:
        palette = self.palette()
        plot = pg.PlotWidget(background=palette.base().color())
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.showGrid(x=False, y=True, alpha=0.25)
        text = palette.text().color()
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        # Two charts under the themed figure panels must still fit a 1024x600 window (160 px each did not).
        plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        return plot

    # --- loading ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self._closed or self._loading:
            return
        self._loading = True
        hours = int(self.window_box.currentData())
        until = datetime.now().astimezone()
        since = until - timedelta(hours=hours)
        self.call(
            lambda: self._figures(since, until),
            "Counting the records",
            self.show_figures,
            lambda _failure: self._done_loading(),
        )

    def _done_loading(self) -> None:
        self._loading = False

    def _figures(self, since: datetime, until: datetime) -> ShiftFigures:
        """On a pool thread: two grouped queries and plain arithmetic."""
        db = self.records.db()
        where = RecordFilter(since=since, until=until)
        seconds = bucket_seconds(since, until)
        shift = throughput(db.outcome_counts(where, seconds), since, until, seconds)
        return ShiftFigures(shift, failure_pareto(db.failure_counts(where)))

    def show_figures(self, figures: ShiftFigures) -> None:
        self._loading = False
        if self._closed:
            return
        self.figures = figures
        shift = figures.throughput
        yield_share = shift.yield_share
        best = shift.best_hour
        values = {
            "Boards": f"{shift.boards:,}",
            "Passed": f"{shift.passed:,}",
            "Failed": f"{shift.failed:,}",
            "Yield": "—" if yield_share is None else f"{yield_share:.1%}",
            "Boards per hour": f"{shift.per_hour:.1f}",
            "Best hour": "—" if best is None else f"{best.boards:,}",
        }
        for name, text in values.items():
            self.panels[name].set_value(text)
        self.panels["Passed"].detail.setText(f"{shift.cancelled:,} cancelled")
        if best is not None:
            when = best.start.astimezone()
            label = when.strftime("%a %d %b") if best.seconds > 3600 else when.strftime("%H:00")
            self.panels["Best hour"].detail.setText(f"at {label}")
        self._draw_rate(shift)
        self._draw_pareto(figures.pareto)
        self.empty_label.setText(
            "" if shift.boards else "No boards finished in this window: provision some on the Station page."
        )

    def _draw_rate(self, shift: Throughput) -> None:
        plot = self.rate_plot
        plot.clear()
        if not shift.buckets:
            return
        seconds = shift.buckets[0].seconds
        xs = [b.start.timestamp() + seconds / 2 for b in shift.buckets]
        base = [0.0] * len(xs)
        series = (
            (Outcome.PASS, "passed", [b.passed for b in shift.buckets]),
            (Outcome.FAIL, "failed", [b.failed for b in shift.buckets]),
            (Outcome.CANCELLED, "cancelled", [b.cancelled for b in shift.buckets]),
        )
        for outcome, name, heights in series:
            colour = QColor(OUTCOME_COLOURS[outcome])
            bars = pg.BarGraphItem(
                x=xs,
                y0=list(base),
                height=heights,
                width=seconds * BAR_WIDTH,
                brush=colour,
                pen=colour,
                name=name,
            )
            plot.addItem(bars)
            base = [b + h for b, h in zip(base, heights, strict=True)]
        plot.setXRange(
            shift.buckets[0].start.timestamp(), shift.buckets[-1].start.timestamp() + seconds, padding=0
        )
        plot.setYRange(0, max(max(base), 1) * 1.15, padding=0)

    def _draw_pareto(self, bars: tuple[ParetoBar, ...]) -> None:
        plot = self.pareto_plot
        plot.clear()
        if not bars:
            return
        most = bars[0].count
        ys = list(range(len(bars)))[::-1]  # most frequent at the top
        colour = QColor(OUTCOME_COLOURS[Outcome.FAIL])
        plot.addItem(
            pg.BarGraphItem(
                x0=[0] * len(bars),
                y=[y - 0.2 for y in ys],
                height=0.36,
                width=[b.count for b in bars],
                brush=colour,
                pen=colour,
            )
        )
        font = QFont()
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        text_colour = self.palette().text().color()
        for y, bar in zip(ys, bars, strict=True):
            label = (
                bar.label
                if len(bar.label) <= PARETO_LABEL_CHARS
                else bar.label[: PARETO_LABEL_CHARS - 1] + "…"
            )
            item = pg.TextItem(
                f"{bar.count:,}  ({bar.share:.0%}, {bar.cumulative:.0%} so far)  {label}",
                color=text_colour,
                anchor=(0, 0.5),
            )
            item.setFont(font)
            item.setPos(0, y + 0.2)  # above its bar, readable whatever the bar's length
            item.setToolTip(f"{bar.step}: {bar.reason}" if bar.step else bar.reason)
            plot.addItem(item)
        plot.setXRange(0, most * 1.05, padding=0)
        plot.setYRange(-0.6, len(bars) - 0.4, padding=0)

    def pareto_labels(self) -> list[str]:
        """The Pareto's bar labels as drawn (tests)."""
        return [item.toPlainText() for item in self.pareto_plot.items() if isinstance(item, pg.TextItem)]

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self.records.close()
