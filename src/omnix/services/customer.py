"""Use case: one customer's rhythms, product by product, in numbers and in words.

The numbers come from the rhythm model (models/rhythm.py) fitted on the whole store's history
before the as-of date, so a customer with two purchases borrows from everyone who buys the same
product. Calibrated probabilities need the time-split heads of the next-need model: they come
from `omnix predict`, not from this view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from omnix.domain.errors import NotFoundError
from omnix.domain.ports import Warehouse
from omnix.domain.rhythm import PairRhythm
from omnix.models.rhythm import forecast
from omnix.services.consent import objected_to_analytics
from omnix.services.encode import codes
from omnix.services.predict import Level, load_history
from omnix.services.rhythms import rhythm_run
from omnix.services.segments import day_after_last

EPOCH = date(1970, 1, 1)
HORIZON_DAYS = 30.0


@dataclass(slots=True)
class CustomerService:
    warehouse: Warehouse

    def rhythms(
        self,
        customer_id: str,
        as_of: date | None = None,
        min_purchases: int = 2,
        level: Level = "product",
    ) -> tuple[date, list[PairRhythm]]:
        """Rhythms of every product the customer bought on >= min_purchases days before as_of.

        as_of defaults to the day after the store's last line, so historical data reads
        naturally. Sorted by the next expected purchase. level="category": rhythms of each
        category (milk of any brand), as `omnix predict --level category` models them; each
        rhythm's product_id and product_name are then the category's name.
        """
        as_of = as_of or day_after_last(self.warehouse.ibis().table("transactions"))
        h = load_history(self.warehouse, as_of)
        if level == "category":
            h = h.by_category()
        (code,) = codes(pa.array([customer_id]), h.encoded.customers)
        if code < 0:
            if objected_to_analytics(self.warehouse, customer_id):
                raise NotFoundError(
                    f"customer {customer_id!r} objected to analytics: no rhythms are computed"
                )
            raise NotFoundError(f"no purchases of customer {customer_id!r} before {as_of}")
        run = rhythm_run(h, HORIZON_DAYS, forecast_all=False)  # one customer's rows below
        pairs, est = run.pairs, run.rhythm
        rows = np.flatnonzero((pairs.customer == code) & (pairs.n_days >= min_purchases))
        f = forecast(est, rows)
        out = []
        for j, row in enumerate(rows.tolist()):
            per_purchase = float(pairs.units_per_purchase[row])
            out.append(
                PairRhythm(
                    customer_id=customer_id,
                    product_id=str(h.encoded.items[pairs.item[row]]),
                    product_name=h.item_names[pairs.item[row]].as_py(),
                    purchases=int(pairs.n_days[row]),
                    units_per_purchase=per_purchase,
                    cycle_days=float(est.cycle_days[row]),
                    usual_low=float(f.cycle_p10[j]) * per_purchase,
                    usual_high=float(f.cycle_p90[j]) * per_purchase,
                    regularity=float(est.regularity[row]),
                    last_purchase=EPOCH + timedelta(days=int(pairs.last_day[row])),
                    as_of=as_of,
                    expected_next=EPOCH + timedelta(days=round(float(f.expected_next_day[j]))),
                    days_overdue=int(est.days_overdue[row]),
                    last_units=float(pairs.last_units[row]),
                )
            )
        return as_of, sorted(out, key=lambda r: (r.expected_next, r.product_id))
