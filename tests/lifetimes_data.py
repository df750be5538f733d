"""The CDNOW files that ship inside the `lifetimes` wheel (dev extra), found without importing
the package (it imports pandas and pkg_resources): the published reference data for CLV tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def lifetimes_dataset(name: str) -> Path:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin, "the dev extra installs lifetimes==0.11.3"
    path = Path(spec.origin).parent / "datasets" / name
    assert path.is_file(), path
    return path


def cdnow_sample_ids() -> set[str]:
    """Master-cohort ids (as in shared/data/cdnow.parquet) of the 2,357-customer 1/10th sample."""
    lines = lifetimes_dataset("CDNOW_sample.txt").read_text().splitlines()
    return {line.split()[0] for line in lines if line.strip()}
