"""Consumer groups of a partitioned log: members, offsets, lag and replay.

Every group reads every record. Inside a group the partitions are dealt round
robin to the members, so members beyond the partition count sit idle. A member
works through a fetched batch of one partition in order and commits it only
when the whole batch succeeded; a failed batch is tried again after a delay,
so a slow or failing record holds up its partition. An idle member gets a new
record after the fetch latency.

Lag is the records appended and not yet committed, per group and partition,
time-weighted. A group that starts at the earliest offset reads the retained
history first (in batches of counts, see :mod:`simulator.messaging.batch`); it
reports when it finished the history, its lag then, and when its lag first
came back to zero.
"""

from typing import Any

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.runtime import Process, RequestFailed
from simulator.engine.services import Service
from simulator.messaging.batch import Batch, batch_of
from simulator.messaging.config import ConsumerGroup
from simulator.messaging.eventlog import Log, Partition, Record
from simulator.messaging.flows import deliver
from simulator.metrics.histogram import LatencyHistogram
from simulator.metrics.timeweighted import TimeWeighted


class _Member:
    """One member of a consumer group and the partitions dealt to it."""

    __slots__ = ("partitions", "turn", "wake")

    def __init__(self) -> None:
        self.partitions: list[Partition] = []
        self.turn = 0
        self.wake: Any = None


class GroupRunner:
    """One consumer group: its members, offsets, lag and replay figures."""

    def __init__(
        self,
        log: Log,
        name: str,
        config: ConsumerGroup,
        service: Service,
        members: int,
    ) -> None:
        self.log = log
        self.name = name
        self.config = config
        self.service = service
        self.env = log.env
        self.runtime = log.runtime
        streams = log.runtime.streams
        fetch = log.config.fetch(config)
        self.fetch = make_sampler(
            fetch, streams.get(f"channel/{log.name}/{name}/fetch")
        )
        self.no_fetch = is_zero(fetch)

        # Where the group starts: the earliest offset (replay) or the end.
        partitions = log.partitions
        earliest = config.start == "earliest"
        self.offsets = [0 if earliest else p.end_offset for p in partitions]
        self.history_left = sum(p.history for p in partitions) if earliest else 0
        self.members = [_Member() for _ in range(members)]
        active = min(members, len(partitions))
        self.owner: list[_Member] = []
        for partition in partitions:
            member = self.members[partition.index % active]
            member.partitions.append(partition)
            self.owner.append(member)
        self.active = active

        self.lag = TimeWeighted()
        self.lag.change(0.0, float(self.history_left))
        self.partition_lag = [TimeWeighted() for _ in partitions]
        for partition, lag in zip(partitions, self.partition_lag, strict=True):
            lag.change(0.0, float(partition.end_offset - self.offsets[partition.index]))
        self.consumed_latency = LatencyHistogram()
        self.counts = dict.fromkeys(("consumed", "batches", "failures"), 0)
        self.history_read_s: float | None = None if self.history_left else 0.0
        self.lag_at_history_end: float | None = None
        self.caught_up_s: float | None = None
        self.chunks = 0

    def start(self) -> None:
        """Start the members that own partitions."""
        for member in self.members:
            if member.partitions:
                self.env.process(self._member(member))

    def appended(self, partition: Partition, count: int) -> None:
        """Count records appended to ``partition``; wake its idle member."""
        now = self.env.now
        self.lag.change(now, count)
        self.partition_lag[partition.index].change(now, count)
        member = self.owner[partition.index]
        if member.wake is not None and not member.wake.triggered:
            member.wake.succeed()

    def _next_partition(self, member: _Member) -> Partition | None:
        # Round robin over the member's partitions that have unread records.
        partitions = member.partitions
        for step in range(len(partitions)):
            partition = partitions[(member.turn + step) % len(partitions)]
            if self.offsets[partition.index] < partition.end_offset:
                member.turn = (member.turn + step + 1) % len(partitions)
                return partition
        return None

    def _fetch(self, partition: Partition) -> tuple[Batch, list[Record]]:
        offset = self.offsets[partition.index]
        size = self.config.batch_size

        # History comes as a count; live records as deliveries.
        if offset < partition.history:
            self.chunks += 1
            events = min(size, partition.history - offset)
            batch = Batch(
                id=-self.chunks,
                start_s=self.env.now,
                measured=False,
                history_events=events,
            )
            return batch, []
        start = offset - partition.base_offset
        count = min(size, partition.end_offset - offset)
        records = [partition.records[start + i] for i in range(count)]
        return batch_of([deliver(r.request, r.flow) for r in records]), records

    def _member(self, member: _Member) -> Process:
        env = self.env
        while True:
            partition = self._next_partition(member)
            if partition is None:
                member.wake = env.event()
                yield member.wake
                member.wake = None
                if not self.no_fetch:
                    yield env.timeout(self.fetch())
                continue

            # A failed batch is tried again: the partition waits for it.
            batch, records = self._fetch(partition)
            while True:
                try:
                    yield from self.service.handle(batch)
                    break
                except RequestFailed:
                    if batch.measured:
                        self.counts["failures"] += 1
                    yield env.timeout(self.config.retry_delay)
            self._commit(partition, batch, records)

    def _commit(
        self, partition: Partition, batch: Batch, records: list[Record]
    ) -> None:
        now = self.env.now
        count = batch.history_events + len(records)
        self.offsets[partition.index] += count
        self.lag.change(now, -count)
        self.partition_lag[partition.index].change(now, -count)
        if batch.measured:
            self.counts["batches"] += 1
        for record, done_s in zip(records, batch.done_s, strict=True):
            if record.request.measured:
                self.counts["consumed"] += 1
                self.consumed_latency.record(done_s - record.sent_s)
            if record.flow is not None:
                record.flow.close_branch(done_s)
        self.log.trim(partition)

        # Replay milestones: the history read, then the first time caught up.
        if batch.history_events:
            self.history_left -= batch.history_events
            if self.history_left == 0:
                self.history_read_s = now
                self.lag_at_history_end = self.lag.level
        if self.history_left == 0 and self.caught_up_s is None and self.lag.level == 0:
            self.caught_up_s = now

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        now = self.env.now
        self.lag.start(now)
        for lag in self.partition_lag:
            lag.start(now)

    def snapshot(self, now: float) -> dict[str, Any]:
        """Return the lag, time-weighted over the window ending ``now``."""
        return {
            "lag_mean": self.lag.average(now),
            "lag_peak": self.lag.peak,
            "lag_at_window_end": self.lag.level,
            "partition_lag_mean": [lag.average(now) for lag in self.partition_lag],
            "partition_lag_peak": [lag.peak for lag in self.partition_lag],
        }

    def report(self) -> dict[str, Any]:
        """Return what the group consumed, and its replay milestones."""
        replay = self.config.start == "earliest" and self.log.history_events > 0
        return {
            "service": self.config.service,
            "consumers": len(self.members),
            "active_consumers": self.active,
            **self.counts,
            "consumed_latency_s": self.consumed_latency.summary(),
            "replay": {
                "history_events": self.log.history_events,
                "history_read_s": self.history_read_s,
                "lag_at_history_end": self.lag_at_history_end,
                "caught_up_s": self.caught_up_s,
                "history_left": self.history_left,
            }
            if replay
            else None,
        }
