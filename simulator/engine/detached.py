"""Waiting for work that may outlive the wait: timeouts and deadlines.

A caller that gives up at a deadline must not leave an exception behind in a
process nobody waits for, so the work runs as a child process whose failures
and cancellation come back as values; the caller waits for the child or the
deadline, whichever is first, and passes its own cancellation down.
"""

import simpy

from simulator.engine.runtime import Process, RequestFailed

CANCELLED = object()
"""What a detached child returns when it was interrupted (cancelled)."""


def detached(body: Process) -> Process:
    """Run ``body``, returning its failure or cancellation instead of raising."""
    try:
        return (yield from body)
    except RequestFailed as failure:
        return failure
    except simpy.Interrupt:
        return CANCELLED


def wait_for(
    env: simpy.Environment, child: simpy.Process, deadline_s: float, cancel: bool
) -> Process:
    """Wait for ``child`` until ``deadline_s``; return whether it finished.

    If the waiting process is itself cancelled, the child is cancelled too
    when ``cancel`` says so, and the interrupt goes on up.
    """
    try:
        yield child | env.timeout(deadline_s - env.now)
    except simpy.Interrupt:
        if cancel and child.is_alive:
            child.interrupt()
        raise
    return child.triggered
