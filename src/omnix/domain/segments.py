"""Records about groups of customers: behavioural clusters and the labels given to them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ClusterProfile:
    """What is known about one behavioural cluster, before anyone names it.

    traits: words from the centroid, strongest first ("high spend", "frequent", ...).
    zscores: the centroid per feature in standard deviations from the customer mean.
    centroid: the centroid per feature in the feature's own units (log currency, orders per
        30 days, ...; see models/clusters.py).
    segment: the named RFM segment most of its customers are in, and that share (0..1).
    """

    cluster_id: int
    customers: int
    share: float
    traits: tuple[str, ...]
    zscores: dict[str, float] = field(default_factory=dict)
    centroid: dict[str, float] = field(default_factory=dict)
    segment: str | None = None
    segment_share: float | None = None


@dataclass(frozen=True, slots=True)
class ClusterLabel:
    """A short name and a one-sentence description for a cluster."""

    name: str
    description: str
