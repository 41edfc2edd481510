"""What data a run trains on, whatever folder holds it.

A data set's identity is its recorded source (``tfds_builders.source_fingerprint``:
builder, version, record options, ``on_error``, the sheets' contents, the frame
folders' file names and sizes; where and when it was built left out) and the samples
read from it (ids, labels, subjects, databases, in order). Two copies of one database,
built alike, have the same identity wherever they are mounted; a different skip list,
face detector or sheet does not. Checkpoints are fingerprinted with it (a sweep
resumes when its data moved), and hosts compare theirs before training
(``faceslueth_jax.distributed.check_same_data``).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from tfds_builders import source_fingerprint


def of_sources(builders) -> list[dict]:
    """Each builder's recorded source, less where and when it was built (records that
    record none: the builder's name, version and config name)."""
    sources = []
    for b in builders:
        recorded = dict((b.info.metadata or {}).get(source_fingerprint.METADATA_KEY) or {})
        sources.append({k: recorded.get(k) for k in source_fingerprint.COMPARED} if recorded
                       else {"builder": b.name, "version": str(b.version),
                             "config": getattr(b.builder_config, "name", "")})
    return sources


def of_samples(data) -> str:
    """sha256 (16 hex digits) of the samples' ids, labels, subjects and databases."""
    digest = hashlib.sha256()
    for column in (data.sample_id, data.label, data.subject, data.dataset):
        digest.update(json.dumps(np.asarray(column).tolist()).encode() + b"\n")
    return digest.hexdigest()[:16]


def of_data(builders, data) -> dict:
    """{'sources': of_sources, 'samples': of_samples, 'num_samples': N}."""
    return {"sources": of_sources(builders), "samples": of_samples(data),
            "num_samples": len(data)}


def digest(identity: dict) -> str:
    """sha256 (16 hex digits) of an identity's JSON."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
