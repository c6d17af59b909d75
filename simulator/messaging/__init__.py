"""Asynchronous patterns: queues, pub/sub topics and partitioned logs.

A topology's ``channels`` section declares them; ``send`` and ``publish`` steps
put messages on them; consumers (services that poll a queue, subscribe to a
topic or read a log in a consumer group) run their own steps per message. Every
message carries the request that caused it, so an asynchronous flow is
measured from that request's arrival to the last consumer finishing.

Modules: ``config`` (the scenario models), ``flows`` (messages, deliveries and
end-to-end flow figures), ``batch`` (running a consumer's steps over a batch),
``queue`` and ``pollers`` (the queue and its consumers), ``pubsub`` (topics),
``eventlog`` and ``groups`` (the log and its consumer groups), ``system`` (the
channels of one running topology), ``references`` (cross-reference checks) and
``report`` (figures across replications).
"""
