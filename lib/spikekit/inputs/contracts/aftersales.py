"""Table family of chapters 11-12: orders, returns, tickets, faq, reviews, inspections, members,
member_activity.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, COUNT_MAX, Column, Contract, TIMESTAMP_UNIT, UNIT_MONEY_MAX
from .checking import _OFFSET_RE, _TIMESTAMP_FIX, _parse_strings
from .loading import _file_rows, load_table


# --- orders, returns, tickets, faq, reviews, inspections, members, member_activity (chapters 11-12) ---
# Cells that may be empty (not shipped yet, no answer yet, no star rating) are read as text by the contract and
# typed by validate_<table>: empty -> NaT / <NA>, anything else must parse like the other columns of its kind.

TICKET_TYPES = ("delay", "quality", "return", "pre_sale", "address", "other")
ORDERS = Contract(
    name="orders",
    description="One row per order of the shop (the spike product and its other products): when, who, what, "
                "where to, and when it was promised, shipped and delivered.",
    columns=(
        Column("order_id", "str", "Unique order id."),
        Column("timestamp", "timestamp", "When the order was placed (local time, minute precision)."),
        Column("buyer_id", "str", "The buyer (the same id for every order of one buyer)."),
        Column("product", "str", "Product name (e.g. 星空咖啡杯); any later order of a buyer is a repurchase."),
        Column("platform", "str", "Where it was sold (e.g. 淘宝, 抖音)."),
        Column("variant", "str", "Design or colour variant (e.g. 星空蓝)."),
        Column("region", "str", "Delivery region, as in regional_demand (e.g. 华东)."),
        Column("price", "float", "Price paid (yuan).", non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("promised_ship", "timestamp", "Latest ship time promised at checkout."),
        Column("shipped", "str", "Date-time it was shipped; empty = not shipped yet. A run treats a time after "
               "as_of as not shipped yet. At or after timestamp.", required=False),
        Column("delivered", "str", "Date-time it was delivered; empty = not delivered yet. At or after shipped.",
               required=False),
        Column("buyer_prior_orders", "int", "Orders of this buyer before this one (shop history).",
               non_negative=True, maximum=COUNT_MAX),
        Column("buyer_prior_returns", "int", "Returns of this buyer before this order; at most buyer_prior_orders.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("order_id",),
)
RETURNS = Contract(
    name="returns",
    description="One row per return request: the order, when it was requested and why.",
    columns=(
        Column("order_id", "str", "The returned order (an order_id of orders; the chapter checks it)."),
        Column("timestamp", "timestamp", "When the return was requested."),
        Column("reason", "str", "Why: quality, delay, not_as_described, changed_mind or damaged.",
               allowed=("quality", "delay", "not_as_described", "changed_mind", "damaged")),
    ),
    key=("order_id",),
)
TICKETS = Contract(
    name="tickets",
    description="One row per customer-service ticket: when it was opened, by whom, about what, the message, and "
                "when it was first answered and resolved.",
    columns=(
        Column("ticket_id", "str", "Unique ticket id."),
        Column("timestamp", "timestamp", "When the ticket was opened."),
        Column("order_id", "str", "The order it is about; empty for questions before buying.", required=False),
        Column("customer_kind", "str", "paid (has an order) or pre_sale (asking before buying).",
               allowed=("paid", "pre_sale")),
        Column("type", "str", "delay, quality, return, pre_sale, address or other.", allowed=TICKET_TYPES),
        Column("text", "str", "The customer's message."),
        Column("first_response", "str", "Date-time of the first answer; empty = not answered yet. At or after "
               "timestamp.", required=False),
        Column("resolved", "str", "Date-time the ticket was closed; empty = still open. At or after timestamp.",
               required=False),
    ),
    key=("ticket_id",),
)
FAQ = Contract(
    name="faq",
    description="The shop's knowledge base: one question and its answer per row.",
    columns=(
        Column("faq_id", "str", "Unique id of the entry."),
        Column("type", "str", "Ticket type it answers (as in tickets).", allowed=TICKET_TYPES),
        Column("question", "str", "The question as customers ask it."),
        Column("answer", "str", "The answer to send."),
    ),
    key=("faq_id",),
)
REVIEWS = Contract(
    name="reviews",
    description="One row per product review: when, where, for which order, stars and text (Chinese or English).",
    columns=(
        Column("review_id", "str", "Unique review id."),
        Column("timestamp", "timestamp", "When the review was posted."),
        Column("platform", "str", "Where it was posted (e.g. 淘宝)."),
        Column("order_id", "str", "The reviewed order; empty if unknown.", required=False),
        Column("rating", "str", "Stars, a whole number 1 to 5; empty if none given.", required=False,
               allowed=("1", "2", "3", "4", "5")),
        Column("text", "str", "The review text."),
    ),
    key=("review_id",),
)
INSPECTIONS = Contract(
    name="inspections",
    description="Quality inspections: one row per inspection round of a delivered batch.",
    columns=(
        Column("batch_id", "str", "The batch (purchase-order delivery) inspected."),
        Column("supplier", "str", "Supplier of the batch, as in suppliers."),
        Column("timestamp", "timestamp", "When the round was inspected."),
        Column("lot_size", "int", "Units in the batch; above 0.", non_negative=True, maximum=COUNT_MAX),
        Column("round", "int", "Inspection round, 1 to 3.", non_negative=True),
        Column("inspected", "int", "Units inspected in this round; above 0 and at most lot_size.",
               non_negative=True, maximum=COUNT_MAX),
        Column("defects", "int", "Defective units found; at most inspected.", non_negative=True, maximum=COUNT_MAX),
    ),
    key=("batch_id", "round"),
)
MEMBERS = Contract(
    name="members",
    description="Buyers in the shop's community (e.g. the WeChat group) and when they joined.",
    columns=(
        Column("buyer_id", "str", "The buyer, as in orders."),
        Column("timestamp", "timestamp", "When the buyer joined the community."),
    ),
    key=("buyer_id",),
)
MEMBER_ACTIVITY = Contract(
    name="member_activity",
    description="Community activity: one row per member and day with at least one action.",
    columns=(
        Column("buyer_id", "str", "The member, as in members."),
        Column("timestamp", "timestamp", "END of the day active (2025-04-02 00:00 = active on 04-01)."),
        Column("actions", "int", "Actions that day (messages, likes, ...); at least 1.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("buyer_id", "timestamp"),
)
for _contract in (ORDERS, RETURNS, TICKETS, FAQ, REVIEWS, INSPECTIONS, MEMBERS, MEMBER_ACTIVITY):
    CONTRACTS[_contract.name] = _contract
del _contract


def _optional_stamps(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    """A text column of date-times that may be empty -> datetime64[ns, tz] with NaT, in the time zone of the
    table's timestamp column (naive values are local times; offsets are converted)."""
    tz = frame["timestamp"].dt.tz
    text = pd.Series(frame[column].astype(str).str.strip().to_numpy(dtype=object), dtype=object)
    filled = (text != "").to_numpy()
    stamps = pd.Series(pd.NaT, index=range(len(frame)), dtype=f"datetime64[{TIMESTAMP_UNIT}, {tz}]")
    if not filled.any():
        return pd.Series(stamps.array, index=frame.index)
    values = text[filled]
    has_offset = values.str.contains(_OFFSET_RE).to_numpy(dtype=bool)
    if has_offset.any() and not has_offset.all():
        mask = np.zeros(len(frame), dtype=bool)
        mask[np.flatnonzero(filled)[~has_offset if has_offset.sum() > len(values) / 2 else has_offset]] = True
        raise InputError("mixed time zones: some values carry a UTC offset and others do not", file=file,
                         column=column, rows=_file_rows(frame, mask),
                         fix="write every time the same way: all local times, or all with an offset like +08:00")
    aware = bool(has_offset.any())
    parsed = _parse_strings(values.reset_index(drop=True), aware)
    bad = parsed.isna().to_numpy()
    if bad.any():
        mask = np.zeros(len(frame), dtype=bool)
        mask[np.flatnonzero(filled)[bad]] = True
        raise InputError(f"cannot read {values.iloc[int(np.flatnonzero(bad)[0])]!r} as a date/time (empty = not yet)",
                         file=file, column=column, rows=_file_rows(frame, mask), fix=_TIMESTAMP_FIX)
    index = pd.DatetimeIndex(parsed)
    index = index.tz_convert(tz) if aware else index.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    stamps.iloc[np.flatnonzero(filled)] = index.as_unit(TIMESTAMP_UNIT)
    return pd.Series(stamps.array, index=frame.index)


def _other_table(frame: pd.DataFrame, contract: Contract) -> bool:
    """load_table finds validate_<name> by the contract's name: a caller's own contract that reuses one of these
    names (with other columns) must not get these rules."""
    return not set(contract.names) <= set(frame.columns)


def _not_before(frame: pd.DataFrame, later: str, earlier: str, file: str, what: str) -> None:
    bad = (frame[later] < frame[earlier]).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        raise InputError(f"{later} is before {earlier}: {what}", file=file, column=later,
                         rows=_file_rows(frame, bad), fix=f"check the dates; {later} cannot come before {earlier}")


def validate_orders(frame: pd.DataFrame, file: str = "orders.csv") -> pd.DataFrame:
    """Types shipped/delivered (empty = not yet); shipped >= timestamp, delivered >= shipped, nothing delivered
    that was not shipped, buyer_prior_returns <= buyer_prior_orders."""
    if _other_table(frame, ORDERS):
        return frame
    frame["shipped"] = _optional_stamps(frame, "shipped", file)
    frame["delivered"] = _optional_stamps(frame, "delivered", file)
    _not_before(frame, "shipped", "timestamp", file, "an order ships after it is placed")
    unshipped = (frame["shipped"].isna() & frame["delivered"].notna()).to_numpy(dtype=bool)
    if unshipped.any():
        raise InputError("delivered but not shipped", file=file, column="shipped", rows=_file_rows(frame, unshipped),
                         fix="fill in when the order was shipped")
    _not_before(frame, "delivered", "shipped", file, "an order is delivered after it ships")
    over = frame["buyer_prior_returns"].to_numpy() > frame["buyer_prior_orders"].to_numpy()
    if over.any():
        raise InputError("buyer_prior_returns is above buyer_prior_orders: a buyer returns only what they ordered",
                         file=file, column="buyer_prior_returns", rows=_file_rows(frame, over),
                         fix="check the two columns are not swapped")
    return frame


def validate_tickets(frame: pd.DataFrame, file: str = "tickets.csv") -> pd.DataFrame:
    """Types first_response/resolved (empty = not yet); both at or after the ticket was opened."""
    if _other_table(frame, TICKETS):
        return frame
    frame["first_response"] = _optional_stamps(frame, "first_response", file)
    frame["resolved"] = _optional_stamps(frame, "resolved", file)
    _not_before(frame, "first_response", "timestamp", file, "a ticket is answered after it is opened")
    _not_before(frame, "resolved", "timestamp", file, "a ticket is closed after it is opened")
    return frame


def validate_reviews(frame: pd.DataFrame, file: str = "reviews.csv") -> pd.DataFrame:
    """Types rating as a nullable whole number 1-5 (<NA> = no stars given)."""
    if _other_table(frame, REVIEWS):
        return frame
    text = frame["rating"].astype(str).str.strip()
    frame["rating"] = pd.array(pd.to_numeric(text.where(text != "", None)), dtype="Int64")
    return frame


def validate_inspections(frame: pd.DataFrame, file: str = "inspections.csv") -> pd.DataFrame:
    """lot_size > 0, round 1-3, 0 < inspected <= lot_size, defects <= inspected."""
    if _other_table(frame, INSPECTIONS):
        return frame
    lot, rnd = frame["lot_size"].to_numpy(), frame["round"].to_numpy()
    inspected, defects = frame["inspected"].to_numpy(), frame["defects"].to_numpy()
    for bad, column, problem, fix in (
        (lot <= 0, "lot_size", "lot_size is 0", "give the units in the batch"),
        ((rnd < 1) | (rnd > 3), "round", "round outside 1-3", "number the rounds of a batch 1, 2, 3"),
        (inspected <= 0, "inspected", "inspected is 0: a round inspects at least one unit", "give the sample size"),
        (inspected > lot, "inspected", "inspected is above lot_size", "check the columns are not swapped"),
        (defects > inspected, "defects", "defects is above inspected", "count defects among the inspected units"),
    ):
        if bad.any():
            raise InputError(problem, file=file, column=column, rows=_file_rows(frame, bad), fix=fix)
    return frame


def validate_member_activity(frame: pd.DataFrame, file: str = "member_activity.csv") -> pd.DataFrame:
    """actions >= 1 (a day without actions has no row)."""
    if _other_table(frame, MEMBER_ACTIVITY):
        return frame
    zero = frame["actions"].to_numpy() < 1
    if zero.any():
        raise InputError("actions is 0: only days with activity have a row", file=file, column="actions",
                         rows=_file_rows(frame, zero), fix="delete rows without actions")
    return frame


def load_orders(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the orders table; load_table applies validate_orders (shipped/delivered typed, NaT = not yet)."""
    return load_table(path, CONTRACTS["orders"], tz=tz, data_root=data_root)


def load_returns(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the returns table (order_id/timestamp/reason)."""
    return load_table(path, CONTRACTS["returns"], tz=tz, data_root=data_root)


def load_tickets(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the tickets table; load_table applies validate_tickets (first_response/resolved typed, NaT = not yet)."""
    return load_table(path, CONTRACTS["tickets"], tz=tz, data_root=data_root)


def load_faq(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the FAQ knowledge base (faq_id/type/question/answer)."""
    return load_table(path, CONTRACTS["faq"], tz=tz, data_root=data_root)


def load_reviews(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the reviews table; load_table applies validate_reviews (rating as Int64, <NA> = no stars)."""
    return load_table(path, CONTRACTS["reviews"], tz=tz, data_root=data_root)


def load_inspections(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the inspection rounds; load_table applies validate_inspections."""
    return load_table(path, CONTRACTS["inspections"], tz=tz, data_root=data_root)


def load_members(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the community members (buyer_id/timestamp joined)."""
    return load_table(path, CONTRACTS["members"], tz=tz, data_root=data_root)


def load_member_activity(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the members' active days; load_table applies validate_member_activity."""
    return load_table(path, CONTRACTS["member_activity"], tz=tz, data_root=data_root)
