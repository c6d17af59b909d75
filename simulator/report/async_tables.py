"""Terminal tables of asynchronous flows, queues, topics and logs.

Each table has a row per topology and flow (or channel, subscription, group)
and appears only when some topology has one.
"""

from typing import Any

from rich.table import Table


def _table(title: str, columns: list[str], left: int) -> Table:
    table = Table(title=title, title_justify="left")
    for index, name in enumerate(columns):
        table.add_column(name, justify="left" if index < left else "right")
    return table


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def _duration(seconds: float) -> str:
    # Milliseconds for what a user waits for; seconds and minutes for backlogs.
    if seconds < 1.0:
        return f"{seconds * 1000:,.1f} ms"
    if seconds < 600.0:
        return f"{seconds:,.2f} s"
    return f"{seconds / 60:,.1f} min"


def _count(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.2f} M"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _seconds(value: float | None) -> str:
    return "not reached" if value is None else _duration(value)


def flows_table(document: dict[str, Any]) -> Table | None:
    """Return the end-to-end latency of every asynchronous flow."""
    table = _table(
        "Asynchronous flows: request arrival to the last consumer finishing",
        [
            "topology",
            "flow (first channel)",
            "started",
            "errors n (%)",
            "in flight",
            "flows/s",
            "mean",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
        ],
        2,
    )
    for topology in document["topologies"]:
        for name, flow in topology.get("async_flows", {}).items():
            started = flow["started"]
            share = flow["failed"] / started * 100 if started else 0.0
            causes = ", ".join(f"{c} {n:,}" for c, n in flow["errors"].items())
            latency = flow["latency_s"]
            table.add_row(
                topology["name"],
                name,
                f"{started:,}",
                f"{flow['failed']:,} ({share:.2f} %)"
                + (f" {causes}" if causes else ""),
                f"{flow['in_flight']:,}",
                f"{flow['throughput_rps']:,.2f}",
                *(
                    _duration(latency[k])
                    for k in ("mean", "p50", "p90", "p99", "p999", "max")
                ),
            )
    return table if table.row_count else None


def queues_table(document: dict[str, Any]) -> Table | None:
    """Return every queue's traffic, depth, age of oldest message and polling."""
    table = _table(
        "Queues (depth and age time-weighted over the window)",
        [
            "topology",
            "queue",
            "sent",
            "redelivered",
            "dead-lettered",
            "depth mean",
            "depth peak",
            "oldest age mean s",
            "oldest age peak s",
            "receives",
            "empty receives",
            "pollers peak",
        ],
        2,
    )
    for topology in document["topologies"]:
        for name, queue in topology.get("channels", {}).items():
            if queue["kind"] != "queue":
                continue
            table.add_row(
                topology["name"],
                name + (" (FIFO)" if queue["fifo"] else ""),
                _count(queue["sent"]),
                _count(queue["redeliveries"]),
                _count(queue["dead_lettered"]),
                f"{queue['depth_mean']:,.2f}",
                _count(queue["depth_peak"]),
                f"{queue['oldest_age_mean_s']:,.3f}",
                f"{queue['oldest_age_peak_s']:,.3f}",
                _count(queue["receive_calls"]),
                _count(queue["empty_receives"]),
                _count(queue["pollers_peak"]),
            )
    return table if table.row_count else None


def subscriptions_table(document: dict[str, Any]) -> Table | None:
    """Return every topic subscription's deliveries, retries and latency."""
    table = _table(
        "Topic subscriptions",
        [
            "topology",
            "topic",
            "subscriber",
            "delivered",
            "filtered out",
            "retries",
            "failed",
            "publish to done p50 ms",
            "p99 ms",
        ],
        3,
    )
    for topology in document["topologies"]:
        for name, topic in topology.get("channels", {}).items():
            if topic["kind"] != "topic":
                continue
            for target, figures in topic["subscriptions"].items():
                latency = figures["delivered_latency_s"]
                table.add_row(
                    topology["name"],
                    f"{name} ({topic['flavour']})",
                    target,
                    _count(figures["deliveries"]),
                    _count(figures["filtered"]),
                    _count(figures["retries"]),
                    _count(figures["failed"]),
                    _ms(latency["p50"]),
                    _ms(latency["p99"]),
                )
    return table if table.row_count else None


def groups_table(document: dict[str, Any]) -> Table | None:
    """Return every consumer group's members, lag and replay milestones."""
    table = _table(
        "Logs: consumer groups (lag in records, time-weighted over the window)",
        [
            "topology",
            "log",
            "group",
            "partitions",
            "consumers (active)",
            "consumed",
            "lag mean",
            "lag peak",
            "hottest partition lag mean",
            "records per produce request",
            "replay: history read at",
            "lag then",
            "caught up at",
        ],
        3,
    )
    for topology in document["topologies"]:
        for name, log in topology.get("channels", {}).items():
            if log["kind"] != "log":
                continue
            for group_name, group in log["groups"].items():
                replay = group["replay"]
                table.add_row(
                    topology["name"],
                    f"{name} ({log['flavour']})",
                    group_name,
                    f"{log['partitions']:,}",
                    f"{group['consumers']:,} ({group['active_consumers']:,})",
                    _count(group["consumed"]),
                    _count(group["lag_mean"]),
                    _count(group["lag_peak"]),
                    _count(max(group["partition_lag_mean"])),
                    f"{log['records_per_produce_request']:,.2f}",
                    "" if replay is None else _seconds(replay["history_read_s"]),
                    ""
                    if replay is None or replay["lag_at_history_end"] is None
                    else _count(replay["lag_at_history_end"]),
                    "" if replay is None else _seconds(replay["caught_up_s"]),
                )
    return table if table.row_count else None


def async_tables(document: dict[str, Any]) -> list[Table]:
    """Return the tables of asynchronous flows and channels that have rows."""
    tables = (
        flows_table(document),
        queues_table(document),
        subscriptions_table(document),
        groups_table(document),
    )
    return [table for table in tables if table is not None]
