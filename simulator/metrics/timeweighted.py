"""Time-weighted averages of piecewise-constant quantities.

Utilisation, queue length and requests in flight change only at events; their
average over a window is the integral of the level divided by the window.
"""


class TimeWeighted:
    """The time-weighted average of a level that changes at instants.

    Only the part of the timeline after :meth:`start` counts, so a warm-up can
    be excluded by starting at its end.
    """

    __slots__ = ("level", "_last_t", "_area", "_start_t", "peak")

    def __init__(self) -> None:
        self.level = 0.0
        self._last_t = 0.0
        self._area = 0.0
        self._start_t: float | None = None
        self.peak = 0.0

    def change(self, now: float, delta: float) -> None:
        """Add ``delta`` to the level at time ``now``."""
        if self._start_t is not None:
            self._area += self.level * (now - self._last_t)
        self._last_t = now
        self.level += delta
        if self.level > self.peak:
            self.peak = self.level

    def start(self, now: float) -> None:
        """Begin the measured window at ``now``; earlier history is dropped."""
        self._start_t = now
        self._last_t = now
        self._area = 0.0
        self.peak = self.level

    def average(self, now: float) -> float:
        """Return the average level between :meth:`start` and ``now``."""
        if self._start_t is None or now <= self._start_t:
            return self.level
        area = self._area + self.level * (now - self._last_t)
        return area / (now - self._start_t)

    def area(self, now: float) -> float:
        """Return the integral of the level since :meth:`start`."""
        if self._start_t is None:
            return 0.0
        return self._area + self.level * (now - self._last_t)
