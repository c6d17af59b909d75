"""The SQS-like queue: visibility, redrive, FIFO groups, polling and its cost.

Exact checks drive tiny topologies with constant times (one message, a
consumer that always fails) or the queue's own API with hand-made messages;
the theory check compares a queue with c pollers and exponential work with
M/M/c (Erlang C).
"""

import math
from collections.abc import Callable

import pytest
import simpy
from helpers import topology_run

from simulator.engine.runtime import Process, Request, Runtime
from simulator.engine.simulation import TopologyRun
from simulator.engine.streams import Streams
from simulator.messaging.config import QueueConfig
from simulator.messaging.queue import CHUNK_BYTES, Message, Queue, chunks
from simulator.metrics.age import AgeOfOldest
from simulator.pricing.monthly import monthly_usage
from simulator.results import estimate
from simulator.scenario.loader import load_scenario_text

ONE_MESSAGE = """\
name: one message
run: {{duration: 1.5s, drain: 100s}}
workload:
  arrivals: {{kind: constant, rate: 1/s}}
  request_size: {size}
pricing: {{region: us-east-1}}
topologies:
  t:
    services:
      worker:
        kind: container
        replicas: {pollers}
        error_rate: {error_rate}
        work: {work}
    channels:
      q:
        kind: queue
        api_latency: 0s
        visibility_timeout: {visibility}
        max_receive_count: {max_receives}
        dead_letter_queue: dlq
        consumer:
          service: worker
          pollers: {pollers}
          pickup_latency: 0s
      dlq: {{kind: queue, api_latency: 0s}}
    entrypoint:
      - {{send: q}}
"""


def one_message(
    error_rate: float = 0.0,
    work: str = "1s",
    visibility: str = "5s",
    max_receives: int = 3,
    pollers: int = 1,
    size: str = "1KB",
) -> TopologyRun:
    return topology_run(
        ONE_MESSAGE.format(
            error_rate=error_rate,
            work=work,
            visibility=visibility,
            max_receives=max_receives,
            pollers=pollers,
            size=size,
        )
    )


def record_starts(run: TopologyRun, service: str) -> list[float]:
    """Prepend a probe step that records when the service starts each message."""
    starts: list[float] = []
    target = run.services[service]
    steps = list(target.steps)
    env = run.env

    def probe(request: Request) -> Process:
        starts.append(env.now)
        yield from ()

    target.steps = [probe, *steps]
    return starts


def queue_of(run: TopologyRun, name: str) -> Queue:
    channel = run.messaging.channels[name]
    assert isinstance(channel, Queue)
    return channel


# Visibility timeout and redrive, exactly.


def test_a_failed_message_comes_back_at_exactly_the_visibility_timeout() -> None:
    # Sent at 1 s; each try takes 1 s and fails; invisible for 5 s per receive.
    run = one_message(error_rate=1.0)
    starts = record_starts(run, "worker")
    result = run.run()

    assert starts == [1.0, 6.0, 11.0]
    q = result.channels["q"]
    assert (q["sent"], q["received"], q["redeliveries"]) == (1, 3, 2)
    assert q["consumer_failures"] == 3


def test_dead_lettered_after_max_receive_count_receives() -> None:
    run = one_message(error_rate=1.0)
    result = run.run()

    # The third receive's timeout ends at 16 s: the message moves to the DLQ.
    dlq = queue_of(run, "dlq")
    assert [entry[0] for entry in dlq.visible] == [16.0]
    assert result.channels["q"]["dead_lettered"] == 1
    flow = result.async_flows["q"]
    assert (flow.started, flow.succeeded, flow.in_flight) == (1, 0, 0)
    assert flow.errors["dead_lettered"] == 1


def test_a_consumer_slower_than_the_timeout_works_a_message_twice() -> None:
    # Two pollers, 3 s of work, 2.5 s of invisibility: the second poller gets
    # the message again at 3.5 s while the first is still working on it. The
    # first finishes at 4 s (the flow ends then, once); its delete is stale.
    run = one_message(work="3s", visibility="2.5s", max_receives=2, pollers=2)
    starts = record_starts(run, "worker")
    result = run.run()

    assert starts == [1.0, 3.5]
    flow = result.async_flows["q"]
    assert (flow.succeeded, flow.latency.max_s) == (1, 3.0)
    q = result.channels["q"]
    assert (q["consumed"], q["redeliveries"]) == (1, 1)
    # The run stops once the flow is done. Run on: the second receive is
    # not deleted either (its 2.5 s ran out at 6 s, before the work ended at
    # 6.5 s), so the message is dead-lettered at 6 s; the flow stays a success.
    run.env.run(until=10.0)
    assert starts == [1.0, 3.5]
    assert queue_of(run, "q").counts["dead_lettered"] == 1
    assert [entry[0] for entry in queue_of(run, "dlq").visible] == [6.0]
    assert flow.errors["dead_lettered"] == 0


def test_a_deleted_message_is_received_once() -> None:
    run = one_message()
    starts = record_starts(run, "worker")
    result = run.run()

    assert starts == [1.0]
    assert result.channels["q"]["redeliveries"] == 0
    assert result.async_flows["q"].latency.max_s == 1.0


# FIFO queues, on the queue's own API.


def make_queue(fifo: bool, visibility_s: float = 5.0) -> tuple[Runtime, Queue]:
    runtime = Runtime(Streams(1, 0), 0.0, 1000.0)
    config = QueueConfig.model_validate(
        {
            "kind": "queue",
            "fifo": fifo,
            "api_latency": 0,
            "visibility_timeout": visibility_s,
        }
    )
    return runtime, Queue("q", config, runtime)


def send_all(queue: Queue, groups: str) -> None:
    # One message per letter, in order; the letter is its group.
    for index, group in enumerate(groups):
        queue.accept(Request(index + 1, 0.0, True), None, 100.0, group)


def labels(messages: list[Message]) -> list[str]:
    return [f"{m.group}{m.seq}" for m in messages]


def test_fifo_keeps_order_within_a_group_and_not_across_groups() -> None:
    runtime, queue = make_queue(fifo=True)
    send_all(queue, "ABAB")  # A1 B2 A3 B4
    env = runtime.env
    done: list[tuple[float, str]] = []

    def consumer(work_s: float) -> Process:
        while True:
            messages = yield from queue.receive(1, 20.0)
            if not messages:
                return
            message = messages[0]
            yield env.timeout(work_s)
            done.append((env.now, labels(messages)[0]))
            yield from queue.delete([(message, message.receipt)])

    # A slow consumer and a fast one: group B overtakes group A.
    env.process(consumer(3.0))
    env.process(consumer(1.0))
    env.run(until=100)

    assert done == [(1.0, "B2"), (2.0, "B4"), (3.0, "A1"), (4.0, "A3")]
    order = [label for _, label in done]
    assert [x for x in order if x[0] == "A"] == ["A1", "A3"]
    assert order.index("B4") < order.index("A1")


def test_fifo_holds_a_group_back_while_one_of_its_messages_is_in_flight() -> None:
    runtime, queue = make_queue(fifo=True, visibility_s=5.0)
    send_all(queue, "AAB")
    env = runtime.env
    received: list[tuple[float, list[str]]] = []

    def receiver() -> Process:
        messages = yield from queue.receive(1, 20.0)
        received.append((env.now, labels(messages)))
        # Never deleted: A1 comes back after the visibility timeout.

    for at in (0.0, 0.0, 1.0, 5.0):
        env.process(start_at(env, at, receiver))
    env.run(until=6)

    # A1 and B3 at once; A2 waits behind A1 (in flight), so the third receive
    # waits. At 5 s A1 comes back (before A2, in order) to the receive waiting
    # longest; A1 is in flight again, so A2 is still held back and the last
    # receive gets B3, back too.
    assert received == [(0.0, ["A1"]), (0.0, ["B3"]), (5.0, ["A1"]), (5.0, ["B3"])]
    assert [m.seq for m in queue.groups["A"]] == [2]


def start_at(env: simpy.Environment, at: float, body: Callable[[], Process]) -> Process:
    yield env.timeout(at)
    yield from body()


def test_a_fifo_batch_takes_a_group_first_then_the_next() -> None:
    _, queue = make_queue(fifo=True)
    send_all(queue, "ABAAB")
    assert labels(queue._take(10)) == ["A1", "A3", "A4", "B2", "B5"]


def test_standard_queue_hands_out_the_oldest_first() -> None:
    _, queue = make_queue(fifo=False)
    send_all(queue, "xyz")
    assert [m.seq for m in queue._take(2)] == [1, 2]


def test_fifo_sends_beyond_300_a_second_are_throttled() -> None:
    text = ONE_MESSAGE.format(
        error_rate=0.0,
        work="1ms",
        visibility="5s",
        max_receives=3,
        pollers=1,
        size="1KB",
    )
    text = text.replace("rate: 1/s", "rate: 400/s").replace(
        "duration: 1.5s", "duration: 10s"
    )
    text = text.replace(
        "      q:\n        kind: queue\n",
        "      q:\n        kind: queue\n        fifo: true\n",
    )
    text = text.replace("{send: q}", "{send: q, key: {keys: 100}}")
    text = text.replace("dlq: {kind: queue,", "dlq: {kind: queue, fifo: true,")
    result = topology_run(text).run()

    # 3,999 sends in 10 s against a bucket of 300 that refills 300 a second.
    assert result.errors["throttled"] == result.channels["q"]["throttled"]
    # About 300 + 300 x 10 get through (less the odd token lost to rounding).
    assert abs(result.errors["throttled"] - (3999 - 300 - 3000)) <= 3
    assert result.channels["q"]["sent"] == 3999 - result.errors["throttled"]


# What every call costs.


@pytest.mark.parametrize(
    ("size_bytes", "requests"),
    [(0, 1), (1, 1), (CHUNK_BYTES, 1), (CHUNK_BYTES + 1, 2), (256 * 1024, 4)],
)
def test_each_64_kib_chunk_is_one_request(size_bytes: int, requests: int) -> None:
    assert chunks(size_bytes) == requests


def test_a_batch_call_counts_the_chunks_of_its_total_payload() -> None:
    runtime, queue = make_queue(fifo=False)
    for index in range(10):
        queue.accept(Request(index + 1, 0.0, True), None, 10_000.0)
    env = runtime.env
    got: list[Message] = []

    def consumer() -> Process:
        messages = yield from queue.receive(10, 20.0)
        got.extend(messages)
        yield from queue.delete([(m, m.receipt) for m in messages])
        # The queue is empty now: a 20 s long poll comes back empty.
        yield from queue.receive(10, 20.0)

    env.process(consumer())
    env.run(until=100)

    meters = runtime.meters.quantities
    # 10 x 10,000 bytes = 100,000 bytes: two 64 KiB chunks for the receive,
    # one request for the DeleteMessageBatch, one empty receive.
    assert len(got) == 10
    assert meters[("q: receive", "sqs.standard.requests")] == pytest.approx(2.0)
    assert meters[("q: delete", "sqs.standard.requests")] == pytest.approx(1.0)
    assert meters[("q: empty receives", "sqs.standard.requests")] == 1.0
    assert runtime.meters.scaling[("q: empty receives", "sqs.standard.requests")] == (
        "time"
    )


def test_a_large_message_costs_chunks_on_send_and_receive() -> None:
    run = one_message(size="100KB")
    result = run.run()
    meters = {key: quantity for key, (quantity, _) in result.meters.items()}
    assert meters[("q: send", "sqs.standard.requests")] == 2.0
    assert meters[("q: receive", "sqs.standard.requests")] == 2.0
    assert meters[("q: delete", "sqs.standard.requests")] == 1.0


IDLE = """\
name: idle pollers
run: {duration: 100s, drain: 0s}
workload:
  arrivals: {kind: constant, rate: 1/day}
  monthly_requests: 1000
pricing: {region: us-east-1}
topologies:
  t:
    services:
      worker: {kind: container, replicas: 2, work: 1s}
    channels:
      q:
        kind: queue
        consumer: {service: worker, wait_time: 20s}
    entrypoint:
      - {send: q}
"""


def test_empty_receives_grow_with_time_and_scale_with_hours() -> None:
    scenario = load_scenario_text(IDLE)
    result = TopologyRun(scenario, "t", 0).run()

    # Two pollers, 20 s long polls from 0 s: 4 empty receives each inside the
    # 100 s window (the fifth ends at 100 s, outside it).
    assert result.arrived == 0
    assert result.channels["q"]["empty_receives"] == 8
    usage = {
        (u.component, u.meter): u.quantity for u in monthly_usage(result, scenario)
    }
    # Extrapolated by hours, not by the month's 1,000 requests.
    assert usage[("q: empty receives", "sqs.standard.requests")] == pytest.approx(
        8 / (100 / 3600) * 730
    )
    assert usage[("q: send", "sqs.standard.requests")] == 0.0


def test_short_polling_polls_once_per_pause_and_round_trip() -> None:
    text = IDLE.replace("wait_time: 20s", "wait_time: 0s, idle_pause: 1s").replace(
        "      q:\n        kind: queue\n",
        "      q:\n        kind: queue\n        api_latency: 0.25s\n",
    )
    result = TopologyRun(load_scenario_text(text), "t", 0).run()
    # Each poller: a 0.25 s empty receive, then 1 s asleep: 80 per 100 s each.
    assert result.channels["q"]["empty_receives"] == 160


# Lambda as the consumer: batches and scaling.

LAMBDA = """\
name: lambda consumer
run: {duration: 10s, drain: 60s}
workload:
  arrivals: {kind: constant, rate: 200/s}
pricing: {region: us-east-1}
topologies:
  t:
    services:
      fn:
        kind: lambda
        memory_mb: 1024
        work: 100ms
        cold_start: 0s
    channels:
      q:
        kind: queue
        api_latency: 0s
        consumer: {service: fn, batch_size: 10, pickup_latency: 0s}
    entrypoint:
      - {send: q}
"""


def test_lambda_takes_batches_and_scales_pollers_with_the_backlog() -> None:
    run = topology_run(LAMBDA)
    result = run.run()
    q = result.channels["q"]
    fn = result.services["fn"]

    # 200 messages a second, 1 s of work per full batch: five pollers cannot
    # keep up, so the event source adds pollers (at most one per 0.2 s).
    assert q["sent"] == q["consumed"] == 1999
    assert 5 < q["pollers_peak"] <= 5 + 10 / 0.2
    assert fn["invocations"] < q["consumed"]
    assert q["redeliveries"] == 0
    # The backlog gone, pollers whose long poll comes back empty stop, down to
    # the five the event source keeps.
    run.env.run(until=run.env.now + 30.0)
    assert queue_of(run, "q").pollers == 5


def test_a_failed_lambda_batch_returns_every_message() -> None:
    text = LAMBDA.replace("work: 100ms", "work: 100ms\n        error_rate: 1.0")
    text = text.replace("rate: 200/s", "rate: 1/s").replace(
        "api_latency: 0s", "api_latency: 0s\n        visibility_timeout: 4s"
    )
    text = text.replace("duration: 10s, drain: 60s", "duration: 1.5s, drain: 9s")
    result = topology_run(text).run()
    q = result.channels["q"]
    # Received at 1 s, 5 s and 9 s: every try fails, every message returns.
    assert (q["sent"], q["received"], q["redeliveries"]) == (1, 3, 2)
    assert result.async_flows["q"].in_flight == 1


# Queueing theory: c pollers and exponential work are an M/M/c queue.

MMC = """\
name: m/m/c
seed: {seed}
run: {{duration: 2000s, warmup: 200s, drain: 200s}}
workload:
  arrivals: {{kind: poisson, rate: 2/s}}
pricing: {{region: us-east-1}}
topologies:
  t:
    services:
      worker: {{kind: container, replicas: 3, work: {{kind: exponential, mean: 1s}}}}
    channels:
      q:
        kind: queue
        api_latency: 0s
        visibility_timeout: 12h
        consumer: {{service: worker, pickup_latency: 0s}}
    entrypoint:
      - {{send: q}}
"""


def erlang_c(servers: int, offered: float) -> float:
    """Return the probability that an arrival waits in an M/M/c queue."""
    top = offered**servers / math.factorial(servers) * servers / (servers - offered)
    bottom = sum(offered**k / math.factorial(k) for k in range(servers)) + top
    return top / bottom


def test_three_pollers_with_exponential_work_behave_as_m_m_3() -> None:
    arrival_rate, service_rate, servers = 2.0, 1.0, 3
    waits = erlang_c(servers, arrival_rate / service_rate)
    wait_s = waits / (servers * service_rate - arrival_rate)
    expected_sojourn_s = wait_s + 1 / service_rate
    expected_depth = arrival_rate * wait_s  # Little's law on the waiting line

    sojourns, depths = [], []
    for seed in range(1, 7):
        result = TopologyRun(load_scenario_text(MMC.format(seed=seed)), "t", 0).run()
        sojourns.append(result.async_flows["q"].latency.mean_s)
        depths.append(result.channels["q"]["depth_mean"])

    sojourn = estimate(sojourns)
    depth = estimate(depths)
    assert sojourn.half_width is not None and depth.half_width is not None
    # Theory inside the 95 % interval, widened to 3 half-widths against the
    # one-in-twenty miss; the interval must be narrow enough to mean something.
    assert abs(sojourn.mean - expected_sojourn_s) <= 3 * sojourn.half_width
    assert abs(depth.mean - expected_depth) <= 3 * depth.half_width
    assert sojourn.half_width < 0.15 * expected_sojourn_s


def test_age_of_the_oldest_message_is_integrated_as_it_grows() -> None:
    age = AgeOfOldest()
    age.update(0.0, 0.0)  # sent at 0, waiting before the window starts at 1
    age.start(1.0)
    age.update(3.0, 2.5)  # the oldest leaves at 3 s; the next was sent at 2.5 s
    age.update(4.0, None)  # empty from 4 s

    # From 1 to 3 s the age grows 1 -> 3 (area 4); from 3 to 4 s, 0.5 -> 1.5
    # (area 1); then nothing waits: the mean over 1..6 s is 5 / 5.
    assert age.average(6.0) == pytest.approx(1.0)
    assert age.peak(6.0) == pytest.approx(3.0)
