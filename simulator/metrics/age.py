"""The time-weighted age of the oldest item waiting in a queue.

Unlike a queue's length, the age of its oldest item is not constant between
events: it grows at one second per second while the same item stays oldest. Its
average over a window is therefore the integral of a piecewise-linear function:
over ``[t0, t1]`` with oldest item sent at ``s`` the area is
``(t1 - t0) * ((t0 + t1) / 2 - s)``. An empty queue has age zero.
"""


class AgeOfOldest:
    """Time-weighted mean and peak of the age of the oldest waiting item.

    Call :meth:`update` whenever the oldest item may have changed, with the
    time it was sent (None when nothing waits). Only the part of the timeline
    after :meth:`start` counts.
    """

    __slots__ = ("_oldest_s", "_last_t", "_area", "_start_t", "peak_s")

    def __init__(self) -> None:
        self._oldest_s: float | None = None
        self._last_t = 0.0
        self._area = 0.0
        self._start_t: float | None = None
        self.peak_s = 0.0

    def _segment(self, now: float) -> float:
        # The area since the last update, while the same item stays oldest.
        oldest = self._oldest_s
        if oldest is None or self._start_t is None or now <= self._last_t:
            return 0.0
        return (now - self._last_t) * ((self._last_t + now) / 2 - oldest)

    def _advance(self, now: float) -> None:
        self._area += self._segment(now)
        if self._oldest_s is not None and self._start_t is not None:
            self.peak_s = max(self.peak_s, now - self._oldest_s)
        self._last_t = now

    def update(self, now: float, oldest_sent_s: float | None) -> None:
        """Record that from ``now`` the oldest waiting item was sent at this time."""
        self._advance(now)
        self._oldest_s = oldest_sent_s

    def start(self, now: float) -> None:
        """Begin the measured window at ``now``; earlier history is dropped."""
        self._start_t = now
        self._last_t = now
        self._area = 0.0
        self.peak_s = now - self._oldest_s if self._oldest_s is not None else 0.0

    def average(self, now: float) -> float:
        """Return the mean age between :meth:`start` and ``now``, in seconds."""
        if self._start_t is None or now <= self._start_t:
            return 0.0
        return (self._area + self._segment(now)) / (now - self._start_t)

    def peak(self, now: float) -> float:
        """Return the largest age seen between :meth:`start` and ``now``."""
        if self._oldest_s is None or self._start_t is None:
            return self.peak_s
        return max(self.peak_s, now - self._oldest_s)
