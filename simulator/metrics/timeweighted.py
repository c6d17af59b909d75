"""Time-weighted averages of piecewise-constant quantities.

Utilisation, queue length and requests in flight change only at events; their
average over a window is the integral of the level divided by the window.
"""


class TimeWeighted:
    """The time-weighted average of a level that changes at instants.

    Only the part of the timeline between :meth:`start` and :meth:`stop`
    counts, so a warm-up can be excluded by starting at its end and a drain by
    stopping at the window's end; the level itself is always kept.
    """

    __slots__ = ("level", "_last_t", "_area", "_start_t", "_end_t", "_on", "peak")

    def __init__(self) -> None:
        self.level = 0.0
        self._last_t = 0.0
        self._area = 0.0
        self._start_t: float | None = None
        self._end_t: float | None = None
        self._on = False
        self.peak = 0.0

    def change(self, now: float, delta: float) -> None:
        """Add ``delta`` to the level at time ``now``."""
        if self._on:
            self._area += self.level * (now - self._last_t)
            self._last_t = now
            self.level += delta
            if self.level > self.peak:
                self.peak = self.level
        else:
            self.level += delta

    def start(self, now: float) -> None:
        """Begin the measured window at ``now``; earlier history is dropped."""
        self._start_t = now
        self._last_t = now
        self._area = 0.0
        self._end_t = None
        self._on = True
        self.peak = self.level

    def stop(self, now: float) -> None:
        """End the measured window at ``now``; later changes are not counted."""
        if not self._on:
            return
        self._area += self.level * (now - self._last_t)
        self._last_t = now
        self._end_t = now
        self._on = False

    def average(self, now: float) -> float:
        """Return the average level between :meth:`start` and ``now``.

        After :meth:`stop`, the average over the stopped window, whatever
        ``now`` is.
        """
        start = self._start_t
        end = self._end_t if self._end_t is not None else now
        if start is None or end <= start:
            return self.level
        return self.area(now) / (end - start)

    def area(self, now: float) -> float:
        """Return the integral of the level since :meth:`start` (to the stop)."""
        if self._start_t is None:
            return 0.0
        if not self._on:
            return self._area
        return self._area + self.level * (now - self._last_t)


class InFlight:
    """Requests in flight, time-weighted two ways with one update per event.

    ``level`` counts every request in the system; its average runs from
    :meth:`start` to :meth:`stop` (the measured window). ``measured`` counts
    only requests that arrived in the window; its integral runs from
    :meth:`start` to the end of the run, drain included, which is what
    Little's law needs.
    """

    __slots__ = ("level", "measured", "_last_t", "_area", "_measured_area", "_on")

    def __init__(self) -> None:
        self.level = 0
        self.measured = 0
        self._last_t = 0.0
        self._area = 0.0
        self._measured_area = 0.0
        self._on = 0
        """0 before the window, 1 in it, 2 after it (drain)."""

    def change(self, now: float, delta: int, measured: bool) -> None:
        """Add ``delta`` requests at ``now``; ``measured`` if they arrived in it."""
        on = self._on
        if on:
            elapsed = now - self._last_t
            if on == 1:
                self._area += self.level * elapsed
            self._measured_area += self.measured * elapsed
            self._last_t = now
        self.level += delta
        if measured:
            self.measured += delta

    def start(self, now: float) -> None:
        """Start the window at ``now``."""
        self._last_t = now
        self._area = 0.0
        self._measured_area = 0.0
        self._on = 1

    def stop(self, now: float) -> None:
        """End the window at ``now``; measured requests go on counting."""
        self.change(now, 0, False)
        self._on = 2

    def area(self) -> float:
        """Integral of all requests in flight over the window (after stop)."""
        return self._area

    def measured_area(self, now: float) -> float:
        """Integral of measured requests in flight from the window's start."""
        if not self._on:
            return 0.0
        return self._measured_area + self.measured * (now - self._last_t)
