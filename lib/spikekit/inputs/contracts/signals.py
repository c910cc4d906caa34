"""Table family of chapters 01-02: signals.csv (hourly interest per keyword x platform) and validation.csv.
"""
from __future__ import annotations


from .columns import CONTRACTS, COUNT_MAX, Column, Contract


SIGNALS = Contract(
    name="signals",
    description="Interaction or search-interest time series, one row per keyword x platform x metric x time.",
    columns=(
        Column("keyword", "str", "The keyword or topic watched (e.g. 露营椅).", categorical=True),
        Column(
            "platform",
            "str",
            "Where it was measured (e.g. 抖音, xiaohongshu, google-trends:Worldwide).",
            categorical=True,
        ),
        Column("timestamp", "timestamp", "When the value was known: the END of the hour/day/week it counts (10:00 = 09:00-10:00). A run uses a row once this is <= as_of."),
        Column("value", "float", "The measured amount for that period.", non_negative=True, maximum=COUNT_MAX),
        Column(
            "metric",
            "str",
            "What was counted: interactions, search_index, posts, searches, ...",
            categorical=True,
        ),
    ),
    key=("keyword", "platform", "metric", "timestamp"),
)

VALIDATION = Contract(
    name="validation",
    description="Counts from the 48-hour validation: polls, pre-sale add-to-carts and orders, design votes.",
    columns=(
        Column("timestamp", "timestamp", "When the count was known: the END of the period counted (10:00 = 09:00-10:00); a run uses a row once this is <= as_of."),
        Column(
            "metric",
            "str",
            "What was counted.",
            allowed=("poll_invited", "poll_participated", "add_to_cart", "presale_order", "design_vote"),
        ),
        Column("count", "int", "How many in that period.", non_negative=True, maximum=COUNT_MAX),
        Column(
            "phase",
            "str",
            "baseline = normal days before the test; test = during the validation.",
            allowed=("baseline", "test"),
        ),
        Column(
            "design",
            "str",
            "Concept design voted for (design_vote rows only).",
            required=False,
            required_when=("metric", "design_vote"),
        ),
    ),
    key=("timestamp", "metric", "phase", "design"),
)

CONTRACTS.update((c.name, c) for c in (SIGNALS, VALIDATION))
