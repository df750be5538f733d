"""Recommendation candidate sources and the learned blend that ranks them.

Each source is a small estimator (scikit-learn conventions) over an integer-coded `Baskets`
history; every one can propose its own top items per customer (`top`) and score any
(customer, item) pair (`score`), so the ranker sees every source's view of every candidate:

    replenishment   due and overdue items from the next-need model         (repeat items)
    collaborative   implicit-feedback ALS ("customers like you also buy")
    content         product-text neighbours of what the customer buys      (sentence embeddings)
    segment         what the customer's segment / cluster buys that they have not
    complements     market-basket rules (support, confidence, lift) for a basket

`blend.BlendRecommender` fits them on a time split and learns how to weigh them.
"""
