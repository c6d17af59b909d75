"""The partitioned log (Kafka or Kinesis-like): producing, retention, prices.

Producing: a key picks the partition (key modulo partitions). Records wait in
a per-partition batch until it holds ``batch_size`` records or ``linger`` has
passed since its first record; each partition serves produce requests one at a
time (``partition_limits``), and records join a batch still waiting behind a
busy partition, so batching grows under load. The producer's publish returns
when its batch is written plus the produce latency: linger and batch size
trade latency for throughput.

Consuming: every consumer group reads every record, one member per partition
(see :mod:`simulator.messaging.groups`).

Retention and replay: a log may start with a retained history (counts, not
records: a year of events takes no memory) spread evenly over the partitions.
A group that starts at the earliest offset reads it before the live records;
the report gives when it finished the history, its lag then, and when it first
caught up (lag 0). Live records are kept only until every group has read them.

Prices: Kafka (MSK) bills broker-hours and provisioned storage per broker;
Kinesis bills shard-hours and one PUT payload unit per 25 KiB of each record.
"""

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from simulator.engine.distributions import is_zero, make_sampler
from simulator.engine.runtime import Process, Request, Runtime
from simulator.messaging.config import LogConfig
from simulator.messaging.flows import Envelope, FlowState

if TYPE_CHECKING:
    from simulator.messaging.groups import GroupRunner

PUT_UNIT_BYTES = 25 * 1024
"""Kinesis bills each 25 KiB of a record's payload as one PUT payload unit."""


def put_units(size_bytes: float) -> int:
    """Return the Kinesis PUT payload units of one record."""
    return max(1, math.ceil(size_bytes / PUT_UNIT_BYTES))


class Record(Envelope):
    """One live record in a partition."""

    __slots__ = ()


class _ProduceBatch:
    """Records waiting together for one produce request."""

    __slots__ = ("records", "size_bytes", "ready_s", "written")

    def __init__(self, ready_s: float, written: Any) -> None:
        self.records: list[Record] = []
        self.size_bytes = 0.0
        self.ready_s = ready_s
        self.written = written


class Partition:
    """One partition: its retained history, live records and produce queue."""

    def __init__(self, index: int, history: int) -> None:
        self.index = index
        self.history = history
        self.records: deque[Record] = deque()
        self.base_offset = history
        self.end_offset = history
        self.batches: deque[_ProduceBatch] = deque()
        self.wake: Any = None


class Log:
    """One log of a running topology."""

    kind = "log"

    def __init__(
        self,
        name: str,
        config: LogConfig,
        runtime: Runtime,
        hours_per_month: float,
        bytes_per_gigabyte: float,
    ) -> None:
        self.name = name
        self.config = config
        self.runtime = runtime
        self.env = runtime.env
        self.flavour = config.flavour

        # History spread evenly; the first partitions take the remainder.
        history = int(config.history.events) if config.history else 0
        count = config.partitions
        self.partitions = [
            Partition(i, history // count + (1 if i < history % count else 0))
            for i in range(count)
        ]
        self.history_events = history

        limits = config.limits()
        self.per_request_s = (
            1.0 / limits.requests_per_s if limits.requests_per_s else 0.0
        )
        self.per_record_s = 1.0 / limits.records_per_s if limits.records_per_s else 0.0
        self.per_byte_s = 1.0 / limits.bytes_per_s if limits.bytes_per_s else 0.0
        self.produce_latency = make_sampler(
            config.produce(), runtime.streams.get(f"channel/{name}/produce")
        )
        self.no_produce_latency = is_zero(config.produce())
        self.groups: list[GroupRunner] = []
        self.counts = dict.fromkeys(("published", "produce_requests"), 0)
        self.records_in_requests = 0

        # Capacity is billed by the hour whether records come or not.
        if self.flavour == "kafka":
            runtime.meter_allocation(name, "msk.broker-hours", config.brokers / 3600)
            storage_gb = config.brokers * config.storage_per_broker / bytes_per_gigabyte
            runtime.meter_allocation(
                name, "msk.storage", storage_gb / (3600 * hours_per_month)
            )
        else:
            runtime.meter_allocation(
                name, "kinesis.shard-hours", config.partitions / 3600
            )
            runtime.meters.declare(name, "kinesis.put-units")

    # Producing.

    def partition_of(self, key: int) -> Partition:
        """Return the partition a key maps to."""
        return self.partitions[key % len(self.partitions)]

    def publish(
        self,
        request: Request,
        flow: FlowState | None,
        size_bytes: float,
        key: int,
    ) -> Process:
        """Add one record to its partition's batch; return once it is written."""
        env = self.env
        partition = self.partition_of(key)
        if flow is not None:
            # Every group reads the record: one branch each (one if none reads).
            for _ in range(max(1, len(self.groups))):
                flow.open_branch()
        if request.measured:
            self.counts["published"] += 1
        if self.flavour == "kinesis":
            self.runtime.meter(
                request, self.name, "kinesis.put-units", put_units(size_bytes)
            )

        batch = self._open_batch(partition)
        batch.records.append(Record(request, flow, env.now, size_bytes))
        batch.size_bytes += size_bytes
        if len(batch.records) >= self.config.producer.batch_size:
            self._wake(partition)

        yield batch.written
        if not self.no_produce_latency:
            yield env.timeout(self.produce_latency())

    def _open_batch(self, partition: Partition) -> _ProduceBatch:
        # The newest waiting batch takes the record if it has room.
        batches = partition.batches
        size = self.config.producer.batch_size
        if batches and len(batches[-1].records) < size:
            return batches[-1]
        batch = _ProduceBatch(
            self.env.now + self.config.producer.linger, self.env.event()
        )
        batches.append(batch)
        self._wake(partition)
        return batch

    def _wake(self, partition: Partition) -> None:
        wake = partition.wake
        if wake is not None and not wake.triggered:
            wake.succeed()

    def _writer(self, partition: Partition) -> Process:
        # The partition's leader: one produce request at a time.
        env = self.env
        size = self.config.producer.batch_size
        while True:
            if not partition.batches:
                partition.wake = env.event()
                yield partition.wake
                continue
            batch = partition.batches[0]
            if len(batch.records) < size and env.now < batch.ready_s:
                partition.wake = env.event()
                yield partition.wake | env.timeout(batch.ready_s - env.now)
                continue

            partition.batches.popleft()
            service_s = (
                self.per_request_s
                + len(batch.records) * self.per_record_s
                + batch.size_bytes * self.per_byte_s
            )
            if service_s:
                yield env.timeout(service_s)
            self._append(partition, batch.records)
            batch.written.succeed()

    def _append(self, partition: Partition, records: list[Record]) -> None:
        if self.runtime.measuring():
            self.counts["produce_requests"] += 1
            self.records_in_requests += len(records)
        partition.records.extend(records)
        partition.end_offset += len(records)
        for group in self.groups:
            group.appended(partition, len(records))
        if not self.groups:
            # Nobody reads it: the record's flow branch ends once it is written.
            for record in records:
                if record.flow is not None:
                    record.flow.close_branch(self.env.now)
            self.trim(partition)

    def trim(self, partition: Partition) -> None:
        """Forget the live records every group has read (memory stays bounded)."""
        oldest = min(
            (g.offsets[partition.index] for g in self.groups),
            default=partition.end_offset,
        )
        records = partition.records
        while records and partition.base_offset < oldest:
            records.popleft()
            partition.base_offset += 1

    # Running and measuring.

    def start(self) -> None:
        """Start every partition's writer and every group's members."""
        for partition in self.partitions:
            self.env.process(self._writer(partition))
        for group in self.groups:
            group.start()

    def start_window(self) -> None:
        """Start the measured window: reset time-weighted figures."""
        for group in self.groups:
            group.start_window()

    def snapshot(self, now: float) -> dict[str, Any]:
        """Return each group's time-weighted lag over the window ending ``now``."""
        return {"groups": {g.name: g.snapshot(now) for g in self.groups}}

    def report(self) -> dict[str, Any]:
        """Return records, produce requests and each group's figures."""
        requests = self.counts["produce_requests"]
        return {
            "kind": self.kind,
            "flavour": self.flavour,
            "partitions": len(self.partitions),
            **self.counts,
            "records_per_produce_request": self.records_in_requests / requests
            if requests
            else 0.0,
            "history_events": self.history_events,
            "groups": {g.name: g.report() for g in self.groups},
        }
