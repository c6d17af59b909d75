"""Short notes on what a link's pattern did, for the links table.

Where a REST or RPC call's time went (handshakes, serialisation, payload),
what deadlines did, a gateway cache's hits, and what became of the events of
an asynchronous Lambda invoke.
"""

from typing import Any


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _wire(link: dict[str, Any]) -> list[str]:
    time = link.get("time_per_call_s")
    if not time:
        return []
    notes = [
        f"ms/call: handshake {time['handshake'] * 1000:.2f} "
        f"({link['handshakes_per_call']:.2f} opened), serialisation "
        f"{time['serialisation'] * 1000:.2f}, network {time['network'] * 1000:.2f}, "
        f"payload {time['payload'] * 1000:.2f}",
        f"{link['wire_bytes_per_call'] / 1000:,.1f} KB/call",
    ]
    if link.get("deadline_exceeded"):
        notes.append(f"deadline exceeded {_count(link['deadline_exceeded'])}")
    if link.get("expired_on_arrival"):
        notes.append(f"arrived expired {_count(link['expired_on_arrival'])}")
    statuses = link.get("error_statuses") or {}
    if statuses:
        notes.append(
            "statuses " + ", ".join(f"{s}: {_count(n)}" for s, n in statuses.items())
        )
    return notes


def _cache(link: dict[str, Any]) -> list[str]:
    cache = link.get("cache")
    if not cache:
        return []
    return [
        f"cache {cache['size_gb']:g} GB: {cache['hit_ratio'] * 100:.1f} % hits "
        f"({_count(cache['hits'])} of {_count(cache['hits'] + cache['misses'])})"
    ]


def _events(link: dict[str, Any]) -> list[str]:
    events = link.get("events")
    if not events:
        return []
    age = link["event_age_s"]
    completion = link["async_completion_s"]
    return [
        f"events {_count(events['enqueued'])}: succeeded "
        f"{_count(events['succeeded'])}, retries {_count(events['retries'])}, "
        f"failed {_count(events['failed_after_retries'])}, dropped "
        f"{_count(events['dropped_max_age'])}",
        f"event age p99 {_ms(age['p99'])}",
        f"async completion p50 {_ms(completion['p50'])}, p99 {_ms(completion['p99'])}",
    ]


def pattern_notes(link: dict[str, Any]) -> list[str]:
    """Return the notes of one link's pattern-specific figures."""
    return _wire(link) + _cache(link) + _events(link)
