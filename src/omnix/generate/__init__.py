"""Synthetic grocery purchase histories with ground truth, deterministic for a seed.

    from omnix.generate import GeneratorConfig, generate
    result = generate(GeneratorConfig(customers=10_000, days=365, seed=7), Path("demo.parquet"))

Writes ``demo.parquet`` (the TRANSACTIONS contract without ``line_id``) and beside it
``demo.parquet.truth.parquet``, ``.products.parquet`` and ``.customers.parquet``.

What is simulated (modules in brackets):

* a grocery catalog of 300..2,000 products (scaled with customers): 14 aisles, fictional
  brands in budget / standard / premium tiers, pack sizes, flavours, a rare specialty
  long tail and seasonal lines (Christmas, Easter, barbecue) [templates, catalog];
* a calendar: busy Fridays and Saturdays, quiet Sundays, a December peak, closed on
  25 December and 1 January, weekly promotions (10-40% off), 2.5%/year inflation [seasons];
* customers of six archetypes (loyal weekly, bulk buyer, lapsing, bargain hunter, premium,
  occasional) arriving over the whole history, some churning [archetypes];
* shopping trips and, per customer, a repertoire of regularly bought products, each with
  its own consumption clock (gamma renewal process; q units last q times as long) [habits];
* impulse and seasonal items, returns (negative quantity on a later trip of the same
  customer, at the price paid), order times, channels and stores [baskets].

Truth (``<out>.truth.parquet``), one row per customer x repertoire product: ``cycle_days``
is the true mean number of days ONE unit lasts. For a pair bought one unit at a time the
mean gap between consecutive purchase dates equals cycle_days; the gap after a purchase
of q units averages q * cycle_days (see `habits` for why snapping to trip days keeps this
exact in expectation). ``n_purchases`` counts the pair's purchase lines (returns excluded);
impulse lines never use a repertoire product of the same customer, so it is exact.

Density, measured: about 105 lines per customer per year (~34 orders of ~3 lines), so

    lines ~= 0.29 * customers * days        (within ~8% from 30 days to 5 years)

100,000 customers x 365 days gave 10.6 M lines (3.45 M orders). Five-year histories run a
little thinner (0.27) as churned customers accumulate.

Speed (2-core machine, 10.6 M lines): ~12 s to .parquet, .csv or .csv.zst, ~40 s to
.jsonl, ~50 s to .csv.gz (zlib level 6); peak RSS 0.5-0.75 GB whatever the size, as
customers are simulated in chunks of <= 5,000, the next chunk on a second thread while
the current one is written.
"""

from omnix.generate.archetypes import ARCHETYPES, Archetype
from omnix.generate.config import GenerateResult, GeneratorConfig
from omnix.generate.simulate import iter_batches
from omnix.generate.sinks import FORMATS
from omnix.generate.tables import (
    customers_schema,
    products_schema,
    transactions_schema,
    truth_schema,
)
from omnix.generate.writer import generate

__all__ = [
    "ARCHETYPES",
    "FORMATS",
    "Archetype",
    "GenerateResult",
    "GeneratorConfig",
    "customers_schema",
    "generate",
    "iter_batches",
    "products_schema",
    "transactions_schema",
    "truth_schema",
]
