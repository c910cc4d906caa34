"""Input contracts: the one place that reads and validates every input table.

A ``Contract`` declares a table's columns (type, required or optional, allowed values, plausibility bounds,
a one-line description) and its key. ``load_table`` reads a file (CSV/TXT in UTF-8, UTF-8 with BOM or GBK/GB18030,
XLSX, Parquet, or a Google Trends "interest over time" export), checks it against a contract and returns a
clean frame: typed columns, timestamps in the spike's time zone, sorted by the key, provenance in
``df.attrs["source"]``. Chapter code receives these frames and never re-checks columns.

Every problem in the data raises one ``InputError`` naming the file, the column, the spreadsheet row
numbers (header = row 1) and the fix. Nothing is resolved silently: two headers naming the same column, a
workbook with data on two sheets, a number outside its column's bounds are errors, not guesses. The checks
are vectorised so a 21.6 M-row Parquet file of signals loads in about a second. ``check_inputs`` runs the
same loads for every input of a run before the run starts.

The package splits that one place by concern (columns, reading, checking, loading, docs) and by table family
(signals, suppliers, stock, logistics, sales, traffic, posts, cash, aftersales); every name is importable from
``spikekit.inputs.contracts`` as before. Family modules are imported in the order their contracts are registered.
"""
from __future__ import annotations

# The modules the flat contracts.py imported stay attributes of the package, as before.
import csv
import difflib
import hashlib
import io
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
)

from ...core import paths
from ...core.errors import ConfigError, InputError

from .columns import (  # noqa: E402,F401
    CONTRACTS,
    COUNT_MAX,
    Column,
    Contract,
    DAYS_MAX,
    DISTANCE_KM_MAX,
    DTYPES,
    HEADER_ALIASES,
    HOURS_MAX,
    MATERIAL_NEVER_DAY_MAX,
    MONEY_MAX,
    SHARE_FIX,
    TIMESTAMP_UNIT,
    TRENDS_INDEX_MAX,
    UNIT_MONEY_MAX,
    _ALIAS_LOOKUP,
    _is_known_header,
    _number_text,
    column_label,
)
from .signals import (  # noqa: E402,F401
    SIGNALS,
    VALIDATION,
)
from .reading import (  # noqa: E402,F401
    _CodesBuilder,
    _EXCEL_SUFFIXES,
    _PARQUET_SUFFIXES,
    _SEPARATORS,
    _TEXT_SUFFIXES,
    _TRENDS_BELOW_ONE,
    _TRENDS_METRIC,
    _TRENDS_TERM_RE,
    _TRENDS_TIME_WORDS,
    _blank_strings,
    _check_unique_headers,
    _code_dtype,
    _column_letters,
    _decode,
    _drop_blank_rows,
    _empty_file_error,
    _split_error,
    _first_rows,
    _infer_period,
    _is_blank,
    _looks_like_category_line,
    _read_excel,
    _read_parquet,
    _read_text,
    _read_trends,
    _sniff_separator,
    _trends_header,
    read_raw,
    sha256_file,
)
from .checking import (  # noqa: E402,F401
    _CHUNK,
    _Context,
    _FALLBACK_FORMATS,
    _OFFSET_RE,
    _TIMESTAMP_FIX,
    _Text,
    _as_text,
    _as_unit,
    _check_bounds,
    _check_conditional,
    _check_text,
    _check_tz,
    _drop_unused,
    _fill_missing,
    _header_renames,
    _key_arrays,
    _localize,
    _match_columns,
    _numbers,
    _parse_strings,
    _run_starts,
    _sort_order,
    _strictly_increasing,
    _text_column,
    _timestamps,
    _used_categories,
    check_column_map,
    validate_table,
)
from .loading import (  # noqa: E402,F401
    _SPIKE_YAML_CACHE,
    _file_rows,
    _load_resolved,
    _spike_yaml,
    check_inputs,
    load_signals,
    load_table,
    load_validation,
    read_signals_any,
    spike_column_map,
)
from .docs import (  # noqa: E402,F401
    _README_KEY_LINE,
    _TYPE_NAMES,
    _rule_text,
    describe_contract,
    main,
    refresh_readme,
)
from .logistics import (  # noqa: E402,F401
    LANES,
    REGIONAL_DEMAND,
    SHARE_SUM_TOLERANCE,
    URGENT_ORDERS,
    WAREHOUSES,
    load_lanes,
    load_regional_demand,
    load_urgent_orders,
    load_warehouses,
    validate_lanes,
    validate_regional_demand,
    validate_urgent_orders,
    validate_warehouses,
)
from .stock import (  # noqa: E402,F401
    STOCK,
    load_stock,
    validate_stock,
)
from .suppliers import (  # noqa: E402,F401
    SUPPLIERS,
    load_suppliers,
    validate_suppliers,
)
from .sales import (  # noqa: E402,F401
    SALES,
    load_sales,
    validate_sales,
)
from .traffic import (  # noqa: E402,F401
    AUDIENCE,
    BUDGET,
    FUNNEL,
    TRAFFIC,
    _off_grid,
    load_audience,
    load_budget,
    load_funnel,
    load_traffic,
    validate_audience,
    validate_budget,
    validate_funnel,
    validate_traffic,
)
from .posts import (  # noqa: E402,F401
    POSTS,
    load_posts,
    validate_posts,
)
from .cash import (  # noqa: E402,F401
    CASH,
    FINANCING,
    SETTLEMENT,
    SUPPLIER_TERMS,
    load_cash,
    load_financing,
    load_settlement,
    load_supplier_terms,
    validate_cash,
    validate_financing,
    validate_settlement,
    validate_supplier_terms,
)
from .aftersales import (  # noqa: E402,F401
    FAQ,
    INSPECTIONS,
    MEMBERS,
    MEMBER_ACTIVITY,
    ORDERS,
    RETURNS,
    REVIEWS,
    TICKETS,
    TICKET_TYPES,
    _not_before,
    _optional_stamps,
    _other_table,
    load_faq,
    load_inspections,
    load_member_activity,
    load_members,
    load_orders,
    load_returns,
    load_reviews,
    load_tickets,
    validate_inspections,
    validate_member_activity,
    validate_orders,
    validate_reviews,
    validate_tickets,
)

__all__ = [
    "Column",
    "Contract",
    "SIGNALS",
    "VALIDATION",
    "CONTRACTS",
    "read_raw",
    "validate_table",
    "load_table",
    "load_signals",
    "load_validation",
    "read_signals_any",
    "sha256_file",
    "describe_contract",
    "check_inputs",
    "refresh_readme",
]
