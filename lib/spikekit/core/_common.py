"""Small helpers the chapter modules share: plain-JSON values for ``to_dict`` and settings from parameters."""
from __future__ import annotations

import math
from dataclasses import fields
from datetime import date, datetime
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .errors import ConfigError


def json_safe(value: Any) -> Any:
    """Plain JSON types: mappings and sequences recursively, NaN/inf and NA as None, times as ISO text,
    tables as lists of records; anything else as its text."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return json_safe(value.to_dict(orient="records"))
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, str):
        return value
    return str(value)


def settings_from_mapping(cls, params: Mapping[str, Any], what: str):
    """Build a settings dataclass from notebook parameters; unknown names are refused (papermill only warns)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown {what} parameter(s) {unknown}; known: {sorted(known)}")
    return cls(**dict(params))


def as_table(value: Any) -> pd.DataFrame | None:
    """A recorded table back as a frame: a frame as is, one row (a mapping) or a list of rows; None otherwise."""
    if value is None:
        return None
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, Mapping):
        return pd.DataFrame([dict(value)])
    if isinstance(value, (list, tuple)):
        return pd.DataFrame(list(value)) if value else pd.DataFrame()
    return None
