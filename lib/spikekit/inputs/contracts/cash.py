"""Table family of chapter 09: cash.csv, settlement.csv, supplier_terms.csv, financing.csv.
"""
from __future__ import annotations

import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, Column, Contract, DAYS_MAX, MONEY_MAX, SHARE_FIX
from .loading import _file_rows, load_table


# --- cash, settlement, supplier_terms, financing (chapter 09) ---

CASH = Contract(
    name="cash",
    description="A snapshot of the shop's money now, one row per item: cash_on_hand, cash_floor, other_products_budget.",
    columns=(
        Column("item", "str", "What the amount is: cash_on_hand (liquid funds now), cash_floor (never go below), "
               "other_products_budget (spend planned for other products that could be shifted).",
               allowed=("cash_on_hand", "cash_floor", "other_products_budget")),
        Column("amount", "float", "Amount in yuan.", minimum=-MONEY_MAX, maximum=MONEY_MAX),
    ),
    key=("item",),
)
SETTLEMENT = Contract(
    name="settlement",
    description="How each platform pays out: days from a sale to cash in the account, platform fee and refunds.",
    columns=(
        Column("platform", "str", "Sales platform (e.g. 淘宝, 抖音)."),
        Column("lag_days", "int", "Days from a sale to the money reaching the shop's account.",
               non_negative=True, maximum=DAYS_MAX),
        Column("fee_share", "float", "Platform fee as a share of sales, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("refund_share", "float", "Share of sales refunded, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
    ),
    key=("platform",),
)
SUPPLIER_TERMS = Contract(
    name="supplier_terms",
    description="Payment terms per supplier: deposit when the order is placed, balance some days after delivery.",
    columns=(
        Column("supplier", "str", "Supplier name, as in the suppliers table."),
        Column("deposit_share", "float", "Share of the order paid when it is placed, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("balance_days", "int", "Days after delivery that the balance is paid.",
               non_negative=True, maximum=DAYS_MAX),
    ),
    key=("supplier",),
)
FINANCING = Contract(
    name="financing",
    description="Financing offers that could cover a cash gap: limit, fee, term and interest.",
    columns=(
        Column("offer", "str", "Name of the offer (e.g. 网商贷 purchase loan)."),
        Column("kind", "str", "purchase_loan (on confirmed orders), receivable_advance (platform pays receivables "
               "early) or presale (customers pay ahead at a discount).",
               allowed=("purchase_loan", "receivable_advance", "presale")),
        Column("limit", "float", "Most it will provide (yuan).", non_negative=True, maximum=MONEY_MAX),
        Column("fee_share", "float", "One-off fee as a share of the amount drawn (for a presale: the discount).",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("term_days", "int", "Days until it is repaid; must be above 0.",
               non_negative=True, maximum=10 * DAYS_MAX),
        Column("rate_annual", "float", "Simple interest per year on the amount drawn (0.12 = 12%).",
               non_negative=True, maximum=1.0, bound_fix="write the yearly rate as a fraction (0.12 = 12%)"),
    ),
    key=("offer",),
)
for _contract in (CASH, SETTLEMENT, SUPPLIER_TERMS, FINANCING):
    CONTRACTS[_contract.name] = _contract
del _contract


def validate_cash(frame: pd.DataFrame, file: str = "cash.csv") -> pd.DataFrame:
    """Cross-row rules of ``cash``: cash_on_hand and cash_floor are present; the floor and budget are not negative."""
    items = set(frame["item"].astype(str))
    missing = [i for i in ("cash_on_hand", "cash_floor") if i not in items]
    if missing:
        raise InputError(f"no row for {', '.join(missing)}: the projection needs the cash now and the floor",
                         file=file, column="item", fix="add rows item,amount for cash_on_hand and cash_floor")
    negative = (frame["item"].astype(str) != "cash_on_hand").to_numpy() & (frame["amount"].to_numpy(dtype=float) < 0)
    if negative.any():
        raise InputError("cash_floor and other_products_budget cannot be negative", file=file, column="amount",
                         rows=_file_rows(frame, negative), fix="give them as amounts >= 0 in yuan")
    return frame


def validate_settlement(frame: pd.DataFrame, file: str = "settlement.csv") -> pd.DataFrame:
    """Cross-column rule of ``settlement``: fee plus refunds at most the whole sale (each share 0-1 by the contract)."""
    over = (frame["fee_share"].to_numpy(dtype=float) + frame["refund_share"].to_numpy(dtype=float)) > 1
    if over.any():
        raise InputError("fee_share + refund_share is above 1: the platform would pay out less than nothing",
                         file=file, column="refund_share", rows=_file_rows(frame, over),
                         fix="check both are fractions of sales (0.05 = 5%)")
    return frame


def validate_supplier_terms(frame: pd.DataFrame, file: str = "supplier_terms.csv") -> pd.DataFrame:
    """Cross-row rules of ``supplier_terms``: none beyond the contract (deposit_share 0-1 is a column bound)."""
    return frame


def validate_financing(frame: pd.DataFrame, file: str = "financing.csv") -> pd.DataFrame:
    """Cross-row rule of ``financing``: a term of at least one day."""
    zero = frame["term_days"].to_numpy() <= 0
    if zero.any():
        raise InputError("term_days is 0: an offer must run at least one day", file=file, column="term_days",
                         rows=_file_rows(frame, zero), fix="give the days until repayment (e.g. 30)")
    return frame


def load_cash(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the cash snapshot (item/amount); load_table applies validate_cash."""
    return load_table(path, CONTRACTS["cash"], tz=tz, data_root=data_root)


def load_settlement(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the settlement terms per platform (platform/lag_days/fee_share/refund_share)."""
    return load_table(path, CONTRACTS["settlement"], tz=tz, data_root=data_root)


def load_supplier_terms(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the payment terms per supplier (supplier/deposit_share/balance_days)."""
    return load_table(path, CONTRACTS["supplier_terms"], tz=tz, data_root=data_root)


def load_financing(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the financing offers (offer/kind/limit/fee_share/term_days/rate_annual)."""
    return load_table(path, CONTRACTS["financing"], tz=tz, data_root=data_root)
