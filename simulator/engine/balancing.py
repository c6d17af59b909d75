"""Load balancing across the replicas of a service, with outlier detection.

A :class:`Balancer` picks a replica for each request by its policy, counting
the requests it has outstanding on each replica (what least-request and power
of two choices compare), and hears how each ended so that its outlier detector
can eject a replica that keeps failing. A service balances its own requests; a
link with ``load_balancing`` balances its calls itself (client-side, like a
mesh sidecar) and so also sees its own timeouts.
"""

import math
import random

from simulator.scenario.base import LoadBalancingSettings, OutlierDetection


class OutlierDetector:
    """Ejects a replica after consecutive failures, for a growing time.

    Attributes:
        ejected_until_s: Per replica, when its ejection ends (0: never ejected).
        ejections: Per replica, how many times it was ejected.
        events: Ejections and returns as ``(time, replica, "ejected"|"returned")``.
    """

    def __init__(self, settings: OutlierDetection, replicas: int) -> None:
        self.threshold = settings.consecutive_failures
        self.base_s = settings.base_ejection_time
        self.max_s = settings.max_ejection_time
        self.failure_causes = frozenset(settings.failure_causes)
        self.max_ejected = max(
            1, math.floor(replicas * settings.max_ejection_percent / 100)
        )
        self.replicas = replicas
        self.failures = [0] * replicas
        self.ejected_until_s = [0.0] * replicas
        self.ejections = [0] * replicas
        self.ejected: list[int] = []
        self.events: list[tuple[float, int, str]] = []

    def healthy(self, now: float, everyone: list[int]) -> list[int]:
        """Return the replicas not ejected at ``now`` (all of them if none is)."""
        ejected = self.ejected
        if not ejected:
            return everyone

        self._return_due(now)
        if not ejected:
            return everyone
        healthy = [r for r in everyone if r not in ejected]
        # With every replica ejected, traffic goes to all (Envoy's panic mode).
        return healthy or everyone

    def _return_due(self, now: float) -> None:
        # Returns happen at their exact instants, whenever they are noticed.
        ejected = self.ejected
        for replica in [r for r in ejected if self.ejected_until_s[r] <= now]:
            ejected.remove(replica)
            self.events.append((self.ejected_until_s[replica], replica, "returned"))

    def record(self, replica: int, cause: str | None, now: float) -> None:
        """Take one request's outcome on ``replica``; ``cause`` None is success."""
        if cause is None:
            self.failures[replica] = 0
            return
        if cause not in self.failure_causes or replica in self.ejected:
            return

        self.failures[replica] += 1
        if self.failures[replica] < self.threshold:
            return
        self._return_due(now)
        if len(self.ejected) >= self.max_ejected:
            return
        self.failures[replica] = 0
        self.ejections[replica] += 1
        duration_s = min(self.max_s, self.base_s * self.ejections[replica])
        self.ejected_until_s[replica] = now + duration_s
        self.ejected.append(replica)
        self.events.append((now, replica, "ejected"))


class Balancer:
    """Picks a replica per request by one policy.

    Attributes:
        outstanding: Per replica, requests picked and not yet finished.
        picked: Per replica, how many measured requests it was given.
    """

    def __init__(
        self, settings: LoadBalancingSettings, replicas: int, rng: random.Random
    ) -> None:
        self.policy = settings.policy
        self.replicas = replicas
        self.everyone = list(range(replicas))
        self.rng = rng
        self.cursor = 0
        self.outstanding = [0] * replicas
        self.picked = [0] * replicas
        self.detector = (
            OutlierDetector(settings.outlier_detection, replicas)
            if settings.outlier_detection is not None
            else None
        )
        choosers = {
            "round-robin": self._round_robin,
            "random": self._random,
            "least-request": self._least_request,
            "power-of-two-choices": self._two_choices,
        }
        self._choose = choosers[self.policy]

    def pick(self, now: float, measured: bool = True) -> int:
        """Choose the replica for a new request and count it as outstanding.

        Args:
            now: The simulated time.
            measured: Whether the request is measured (it then counts in
                :attr:`picked`).
        """
        candidates = self.everyone
        if self.detector is not None:
            candidates = self.detector.healthy(now, candidates)
        replica = self._choose(candidates)
        self.outstanding[replica] += 1
        if measured:
            self.picked[replica] += 1
        return replica

    def finished(self, replica: int, cause: str | None, now: float) -> None:
        """Take the end of a request: ``cause`` None for a success.

        A cause of ``cancelled`` says the caller gave up without an outcome.
        """
        self.outstanding[replica] -= 1
        if self.detector is not None and cause != "cancelled":
            self.detector.record(replica, cause, now)

    def _round_robin(self, candidates: list[int]) -> int:
        replica = candidates[self.cursor % len(candidates)]
        self.cursor += 1
        return replica

    def _random(self, candidates: list[int]) -> int:
        return candidates[self.rng.randrange(len(candidates))]

    def _least_request(self, candidates: list[int]) -> int:
        # A full scan; ties go to the first in a rotating order, so equal
        # replicas share the traffic evenly.
        count = len(candidates)
        start = self.cursor % count
        self.cursor += 1
        outstanding = self.outstanding
        best = candidates[start]
        for offset in range(1, count):
            replica = candidates[(start + offset) % count]
            if outstanding[replica] < outstanding[best]:
                best = replica
        return best

    def _two_choices(self, candidates: list[int]) -> int:
        count = len(candidates)
        if count == 1:
            return candidates[0]
        randrange = self.rng.randrange
        first = randrange(count)
        second = randrange(count - 1)
        if second >= first:
            second += 1
        a, b = candidates[first], candidates[second]
        return b if self.outstanding[b] < self.outstanding[a] else a

    def report(self) -> dict[str, object]:
        """Return how requests were spread and what outlier detection did."""
        figures: dict[str, object] = {
            "policy": self.policy,
            "picked": {str(r): n for r, n in enumerate(self.picked)},
        }
        if self.detector is not None:
            figures["ejections"] = sum(self.detector.ejections)
        return figures
