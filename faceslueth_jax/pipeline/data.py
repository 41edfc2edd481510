"""Stage 2: a config's data, built or reused, read and prepared as the model reads
it, and checked to be the same on every host, all before anything is written."""

from __future__ import annotations

import dataclasses

import jax

from faceslueth_jax import distributed
from faceslueth_jax.data import identity, model_inputs, records, sources


@dataclasses.dataclass
class RunData:
    """The builders of every data set the config reads, their prepared records (with
    several processes: labels and names only, ``views_for`` loads the views), and what
    data it is (``data.identity``)."""
    builders: list
    data: records.MEData
    identity: dict

    def views_for(self, config, samples) -> records.MEData:
        """The prepared records with the views of ``samples`` only (multi-host)."""
        return model_inputs.prepared_data(
            config, records.read_builders(self.builders, keep=samples))


def load(config) -> RunData:
    """The config's data. One process reads everything; with several, each first reads
    the labels and names (the views follow once its folds are known), and the hosts
    compare their data (``distributed.check_same_data``)."""
    builders = sources.prepare_all(config.data)
    several = jax.process_count() > 1
    data = model_inputs.prepared_data(
        config, records.read_builders(builders, keep=[] if several else None))
    what = identity.of_data(builders, data)
    distributed.check_same_data(identity.digest(what["sources"]), what["samples"], len(data))
    return RunData(builders, data, what)
