"""Named random streams.

Every component draws from its own stream, named after what it is (``arrivals``,
``service/orders/step0``), seeded from the scenario seed, the replication and
the name. Adding a component therefore never shifts the numbers another one
draws, and two topologies of a scenario that share a name share its numbers
(common random numbers). Python's Mersenne Twister seeded with an integer gives
the same sequence on every platform and in every process.
"""

import hashlib
import random


def stream_seed(seed: int, replication: int, name: str) -> int:
    """Return the 64-bit seed of the stream ``name`` in one replication."""
    digest = hashlib.blake2b(
        f"{seed}/{replication}/{name}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big")


class Streams:
    """Hands out one :class:`random.Random` per name, made on first use."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        self._streams: dict[str, random.Random] = {}

    def seed_of(self, name: str) -> int:
        """Return the 64-bit seed of the stream ``name`` in this replication.

        Per-request draws (:mod:`simulator.engine.crn`) start from it.
        """
        return stream_seed(self.seed, self.replication, name)

    def get(self, name: str) -> random.Random:
        """Return the stream called ``name``, the same object on every call."""
        stream = self._streams.get(name)
        if stream is None:
            stream = random.Random(stream_seed(self.seed, self.replication, name))
            self._streams[name] = stream
        return stream
