"""One of two loopback ``jax.distributed`` processes that must decide alike:
``python -m tests.hosts_worker ADDRESS PROCESS_ID WORKDIR``; prints one JSON line.

Each process's checkpoint clock reads differently (process 0 past ``min_seconds``,
process 1 not, then the other way round), and each process holds data of its own
digests; the parent test compares what the two decided."""

from __future__ import annotations

import json
import sys

import jax


def main(address: str, process_id: int, workdir: str) -> None:
    jax.distributed.initialize(address, num_processes=2, process_id=process_id)
    from faceslueth_jax import distributed
    from faceslueth_jax.train.checkpoints import SweepCheckpoints

    now = [0.0]
    saves = SweepCheckpoints(workdir, every_epochs=1, keep=1, fingerprint_="f",
                             min_seconds=60.0, clock=lambda: now[0])
    due = []
    for elapsed in ([100.0, 10.0] if process_id == 0 else [10.0, 100.0]):
        now[0] = elapsed
        due.append(saves.due(1, 10))
    refusals = []
    ours, other = "0123456789abcdef", "fedcba9876543210"
    for sources, samples in ((ours, ours), (ours, other), (other, ours)):
        try:
            distributed.check_same_data(ours if process_id == 0 else sources,
                                        ours if process_id == 0 else samples, 442 - process_id)
            refusals.append(None)
        except distributed.HostsDisagree as e:
            refusals.append(str(e))
    print(json.dumps({"due": due, "refusals": refusals}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
