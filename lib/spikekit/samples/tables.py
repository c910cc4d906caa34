"""The registry of tables: table name -> (file name, maker), and the tables a maker is built from.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd

from .signals import make_signals, make_validation
from .supply import (
    make_demand,
    make_lanes,
    make_regional_demand,
    make_stock,
    make_suppliers,
    make_urgent_orders,
    make_warehouses,
)
from .sales import make_sales
from .traffic import make_audience, make_budget, make_funnel, make_traffic
from .posts import make_posts
from .cash import make_cash, make_financing, make_settlement, make_supplier_terms
from .aftersales import (
    make_faq,
    make_inspections,
    make_member_activity,
    make_members,
    make_orders,
    make_returns,
    make_reviews,
    make_tickets,
)


# Table name -> (file name, maker). Add later chapters' tables here.
TABLE_MAKERS: dict[str, tuple[str, Callable[..., pd.DataFrame]]] = {
    "signals": ("signals.csv", make_signals),
    "validation": ("validation.csv", make_validation),
    "demand": ("demand.csv", make_demand),
    "suppliers": ("suppliers.csv", make_suppliers),
    "stock": ("stock.csv", make_stock),
    "warehouses": ("warehouses.csv", make_warehouses),
    "lanes": ("lanes.csv", make_lanes),
    "regional_demand": ("regional_demand.csv", make_regional_demand),
    "urgent_orders": ("urgent_orders.csv", make_urgent_orders),
    "sales": ("sales.csv", make_sales),
    "traffic": ("traffic.csv", make_traffic),
    "funnel": ("funnel.csv", make_funnel),
    "audience": ("audience.csv", make_audience),
    "budget": ("budget.csv", make_budget),
    "posts": ("posts.csv", make_posts),
    "cash": ("cash.csv", make_cash),
    "settlement": ("settlement.csv", make_settlement),
    "supplier_terms": ("supplier_terms.csv", make_supplier_terms),
    "financing": ("financing.csv", make_financing),
    "orders": ("orders.csv", make_orders),
    "returns": ("returns.csv", make_returns),
    "tickets": ("tickets.csv", make_tickets),
    "faq": ("faq.csv", make_faq),
    "reviews": ("reviews.csv", make_reviews),
    "inspections": ("inspections.csv", make_inspections),
    "members": ("members.csv", make_members),
    "member_activity": ("member_activity.csv", make_member_activity),
}
# Tables made from earlier ones (passed to the maker by name): the funnel's views and the audience's
# visitors are the traffic's visitors, so the data room's tables add up.
TABLE_INPUTS: dict[str, tuple[str, ...]] = {"funnel": ("traffic",), "audience": ("traffic",),
                                           "supplier_terms": ("suppliers",), "orders": ("sales",),
                                           "returns": ("orders",), "tickets": ("orders",), "reviews": ("orders",),
                                           "members": ("orders",), "member_activity": ("members",)}
