"""The look: everything a person sets while looking at a map, as one checked value.

A ``Look`` holds colour, label, search (the column searched, regex, case), the selection (row
ids), isolation (row ids shown alone, hidden in place or re-projected), filters (values kept per
category column, a range per numeric column), clusters (shown or not, their minimum size, space
and names on the map), density contours and the camera. It names columns and row ids, never
positions, so it survives a new projection of the same points: a change of method, dimensions
or parameters keeps it whole.

It travels three ways, all spelled here: as the page URL's parameters (``to_query`` /
``from_query``, the keys ``LOOK_KEYS``; defaults left out so links stay short), as JSON inside a
saved view (``to_dict`` / ``from_dict``), and as the partial updates a map reports
(``updated``). Every field is checked when a look is made or read; a bad one is one
``InputError`` line naming the field.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from embeddings.choices import CLUSTER_SPACES, DEFAULT_CLUSTER_SPACE, LOOK_KEYS
from embeddings.errors import InputError

MAX_URL_ROWS = 1_000  # row ids in a link (selection, isolation); a saved view keeps them all


@dataclass(frozen=True)
class Filter:
    """Keep the rows whose `column` is one of `values` (a category column), or lies in
    [low, high] (a numeric column: `values` empty). No values and no range keeps every row."""

    column: str
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def is_range(self) -> bool:
        return self.low is not None or self.high is not None

    @property
    def active(self) -> bool:
        """True when it keeps fewer than all rows (a category filter with values chosen, or a range)."""
        return bool(self.values) or self.is_range

    def to_json(self) -> Any:
        return {"min": self.low, "max": self.high} if self.is_range else list(self.values)


@dataclass(frozen=True)
class ClusterLook:
    """Clusters shown on the map: HDBSCAN's minimum size (None grows with the points), the space
    clustered ("original", the default, or "layout"), and whether their names are written on the map."""

    min_size: int | None = None
    space: str = DEFAULT_CLUSTER_SPACE
    names: bool = True


@dataclass(frozen=True)
class Look:
    """What a person set while looking: one value, checked on creation."""

    color: str | None = None
    label: str | None = None
    search: str = ""
    search_in: str | None = None  # the column searched (None: the points' text column)
    regex: bool = False
    case: bool = False
    selection: tuple[int, ...] = ()  # row ids
    isolated: tuple[int, ...] = ()  # row ids shown alone (empty: every point)
    reproject: bool = False  # the isolated points laid out again on their own (else hidden in place)
    filters: tuple[Filter, ...] = ()
    clusters: ClusterLook | None = None
    density: bool = False
    camera: str | None = None  # the map's camera, as the map writes it (opaque here)

    def __post_init__(self) -> None:
        check = _Checker("look")
        for key in ("color", "label", "search_in", "camera"):
            object.__setattr__(self, key, check.optional_text(getattr(self, key), key))
        object.__setattr__(self, "search", check.text(self.search, "search"))
        for key in ("regex", "case", "reproject", "density"):
            object.__setattr__(self, key, check.boolean(getattr(self, key), key))
        object.__setattr__(self, "selection", check.rows(self.selection, "selection"))
        object.__setattr__(self, "isolated", check.rows(self.isolated, "isolated"))
        object.__setattr__(self, "filters", check.filters(self.filters))
        if self.clusters is not None:
            object.__setattr__(self, "clusters", check.clusters(self.clusters))
        if self.reproject and not self.isolated:
            object.__setattr__(self, "reproject", False)  # nothing isolated: nothing to re-project

    # ---------------------------------------------------------------- what it keeps

    @property
    def active_filters(self) -> tuple[Filter, ...]:
        return tuple(f for f in self.filters if f.active)

    def columns(self) -> set[str]:
        """Every column the look names (colour, label, search column, filters)."""
        named = {self.color, self.label, self.search_in, *(f.column for f in self.filters)}
        return {c for c in named if c}

    def for_columns(self, columns: set[str] | list[str]) -> tuple["Look", list[str]]:
        """The look with the columns these points lack left out, and one note per column dropped."""
        have = set(columns)
        notes: list[str] = []
        values: dict[str, Any] = {}
        for key, what in (("color", "colour"), ("label", "label"), ("search_in", "search")):
            column = getattr(self, key)
            if column is not None and column not in have:
                values[key] = None
                notes.append(f"No column {column!r} here to {what} by.")
        kept = tuple(f for f in self.filters if f.column in have)
        if len(kept) != len(self.filters):
            gone = [f.column for f in self.filters if f.column not in have]
            notes.append(f"No column {gone[0]!r} here to filter by.")
            values["filters"] = kept
        return (replace(self, **values) if values else self), notes

    def for_rows(self, count: int) -> "Look":
        """The look with row ids beyond `count` points left out (a link made for other data)."""
        selection = tuple(r for r in self.selection if r < count)
        isolated = tuple(r for r in self.isolated if r < count)
        if (selection, isolated) == (self.selection, self.isolated):
            return self
        return replace(self, selection=selection, isolated=isolated)

    # ---------------------------------------------------------------- the page URL

    def to_query(self) -> dict[str, str]:
        """The look as URL parameters (LOOK_KEYS); defaults left out. Row lists longer than
        MAX_URL_ROWS stay out of a link (a saved view keeps them)."""
        query = {
            "color": self.color or "",
            "label": self.label or "",
            "search": self.search,
            "search_in": self.search_in or "",
            "regex": "1" if self.regex else "",
            "case": "1" if self.case else "",
            "sel": _row_text(self.selection),
            "iso": _row_text(self.isolated),
            "reproject": "1" if self.reproject and self.isolated else "",
            "filters": _filters_text(self.filters),
            "density": "1" if self.density else "",
            "cam": self.camera or "",
        }
        if self.clusters is not None:
            query["clusters"] = str(self.clusters.min_size) if self.clusters.min_size else "auto"
            query["cluster_space"] = "" if self.clusters.space == DEFAULT_CLUSTER_SPACE else self.clusters.space
            query["cluster_names"] = "" if self.clusters.names else "0"
        return {key: value for key, value in query.items() if value}

    @classmethod
    def from_query(cls, query: Mapping[str, Any], where: str = "link") -> "Look":
        """A look from URL parameters (what to_query writes); other keys are ignored."""
        return cls().updated({key: query[key] for key in LOOK_KEYS if key in query}, where)

    def updated(self, values: Mapping[str, Any], where: str = "look") -> "Look":
        """A copy with the URL-spelled `values` that are present applied (a map's report, a link).

        Strings as a URL holds them ("1" / "" for switches, "3,8" for rows, JSON for filters), or
        plain values (booleans, lists)."""
        check = _Checker(where)
        get = {key: _one(value) if isinstance(value, (list, tuple)) and key not in ("sel", "iso") else value
               for key, value in values.items()}
        out: dict[str, Any] = {}
        for key in ("color", "label", "search_in"):
            if key in get:
                out[key] = check.optional_text(get[key] or None, key)
        if "search" in get:
            out["search"] = check.text(get["search"] or "", "search")
        for key in ("regex", "case", "reproject", "density"):
            if key in get:
                out[key] = check.flag(get[key], key)
        if "sel" in get:
            out["selection"] = check.row_list(get["sel"], "sel")
        if "iso" in get:
            out["isolated"] = check.row_list(get["iso"], "iso")
        if "filters" in get:
            out["filters"] = check.filters_text(get["filters"], "filters")
        if "cam" in get:
            out["camera"] = check.optional_text(get["cam"] or None, "cam")
        if any(key in get for key in ("clusters", "cluster_space", "cluster_names")):
            out["clusters"] = check.clusters_query(get, self.clusters)
        try:
            return replace(self, **out)
        except InputError as error:
            raise InputError(f"{where}: {str(error).removeprefix('look: ')}") from None

    # ---------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        """The look as JSON values (what a saved view holds); defaults left out."""
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:  # every field has a plain default
                continue
            if f.name in ("selection", "isolated"):
                value = list(value)
            elif f.name == "filters":
                value = {flt.column: flt.to_json() for flt in value}
            elif f.name == "clusters":
                value = {"min_size": value.min_size, "space": value.space, "names": value.names}
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "look") -> "Look":
        if not isinstance(data, Mapping):
            raise InputError(f"{where}: the look must be an object, not {type(data).__name__}")
        values = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"{where}: unknown look field {unknown[0]!r}")
        check = _Checker(where)
        for key in ("selection", "isolated"):
            if key in values:
                values[key] = check.rows(values[key], key)
        if "filters" in values:
            values["filters"] = check.filters_json(values["filters"], "filters")
        if values.get("clusters") is not None:
            clusters = values["clusters"]
            if not isinstance(clusters, Mapping) or set(clusters) - {"min_size", "space", "names"}:
                raise check.fail("clusters", "must be an object with min_size, space and names")
            values["clusters"] = ClusterLook(**clusters)
        try:
            return cls(**values)
        except InputError as error:
            raise InputError(f"{where}: {str(error).removeprefix('look: ')}") from None
        except TypeError as error:
            raise InputError(f"{where}: {error}") from None


def _row_text(rows: tuple[int, ...]) -> str:
    return ",".join(str(r) for r in rows) if len(rows) <= MAX_URL_ROWS else ""


def _filters_text(filters: tuple[Filter, ...]) -> str:
    active = {f.column: f.to_json() for f in filters if f.active}
    return json.dumps(active, ensure_ascii=False, separators=(",", ":")) if active else ""


def _one(value: Any) -> Any:
    """st.query_params hands the last value of a repeated key; a list here means the same."""
    return value[-1] if value else ""


class _Checker:
    """Field checks that raise one line: '<where>: <field> ...'."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, why: str) -> InputError:
        return InputError(f"{self.where}: {key} {why}")

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be text, not {type(value).__name__}")
        return value

    def optional_text(self, value: Any, key: str) -> str | None:
        return None if value is None or value == "" else self.text(value, key)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def flag(self, value: Any, key: str) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("", "0", "false", "no", "off", "none"):
            return False
        raise self.fail(key, f"must be 1 or 0, not {value!r}")

    def rows(self, value: Any, key: str) -> tuple[int, ...]:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise self.fail(key, f"must be a list of row numbers, not {value!r}")
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, numbers.Integral):
                if isinstance(item, float) and item.is_integer():
                    item = int(item)
                else:
                    raise self.fail(f"{key} item", f"must be a whole number, not {item!r}")
            if item < 0:
                raise self.fail(f"{key} item", f"must be at least 0, not {item}")
            out.append(int(item))
        return tuple(dict.fromkeys(out))  # each row once, in the order given

    def row_list(self, value: Any, key: str) -> tuple[int, ...]:
        if not isinstance(value, str):
            return self.rows(value, key)
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not all(re.fullmatch(r"\d+", p) for p in parts):
            raise self.fail(key, f"must be row numbers separated by commas, not {value[:40]!r}")
        return tuple(dict.fromkeys(int(p) for p in parts))

    def number(self, value: Any, key: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise self.fail(key, f"must be a number, not {value!r}")
        return float(value)

    def filters(self, value: Any) -> tuple[Filter, ...]:
        if not isinstance(value, (tuple, list)) or not all(isinstance(f, Filter) for f in value):
            raise self.fail("filters", "must be a list of filters")
        out, seen = [], set()
        for item in value:
            column = self.text(item.column, "filters column")
            if column in seen:
                raise self.fail("filters", f"name column {column!r} twice")
            seen.add(column)
            values = tuple(self.text(v, f"filters.{column} value") for v in item.values)
            low, high = self.number(item.low, f"filters.{column} min"), self.number(item.high, f"filters.{column} max")
            if values and (low is not None or high is not None):
                raise self.fail(f"filters.{column}", "is either values or a range, not both")
            if low is not None and high is not None and low > high:
                raise self.fail(f"filters.{column}", f"min {low:g} is above max {high:g}")
            out.append(Filter(column, values, low, high))
        return tuple(out)

    def filters_json(self, value: Any, key: str) -> tuple[Filter, ...]:
        """{column: [values...] | {"min": x, "max": y}} as Filters."""
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be an object of column: values or {min, max}")
        out = []
        for column, kept in value.items():
            if isinstance(kept, Mapping):
                if set(kept) - {"min", "max"}:
                    raise self.fail(f"{key}.{column}", "must hold only min and max")
                out.append(Filter(str(column), (), self.number(kept.get("min"), f"{key}.{column} min"),
                                  self.number(kept.get("max"), f"{key}.{column} max")))
            elif isinstance(kept, list):
                out.append(Filter(str(column), tuple(str(v) for v in kept)))
            else:
                raise self.fail(f"{key}.{column}", "must be a list of values or {min, max}")
        return self.filters(out)

    def filters_text(self, value: Any, key: str) -> tuple[Filter, ...]:
        if not isinstance(value, str):
            return self.filters_json(value, key)
        if not value.strip():
            return ()
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            raise self.fail(key, f"must be JSON such as {{\"topic\":[\"finance\"]}}, not {value[:40]!r}") from None
        return self.filters_json(data, key)

    def clusters(self, value: Any) -> ClusterLook:
        if not isinstance(value, ClusterLook):
            raise self.fail("clusters", "must be a ClusterLook")
        size = value.min_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 2):
            raise self.fail("clusters", f"minimum size must be a whole number of at least 2, not {size!r}")
        if value.space not in CLUSTER_SPACES:
            raise self.fail("cluster_space", f"must be one of {', '.join(CLUSTER_SPACES)}, not {value.space!r}")
        return ClusterLook(None if size is None else int(size), value.space, self.boolean(value.names, "cluster_names"))

    def clusters_query(self, get: Mapping[str, Any], current: ClusterLook | None) -> ClusterLook | None:
        base = current or ClusterLook()
        on = get.get("clusters", "auto" if current is not None else "")
        if on in (None, "", "0", "off"):
            return None
        if on == "auto":
            size = None
        elif isinstance(on, int) or (isinstance(on, str) and on.isdigit()):
            size = int(on)
        else:
            raise self.fail("clusters", f"must be auto or a minimum size, not {str(on)[:40]!r}")
        space = get.get("cluster_space", base.space) or DEFAULT_CLUSTER_SPACE
        names = base.names
        if "cluster_names" in get:  # left out of a link when on
            names = self.flag(get["cluster_names"], "cluster_names") if get["cluster_names"] != "" else True
        return self.clusters(ClusterLook(size, space, names))


__all__ = ["Look", "Filter", "ClusterLook", "MAX_URL_ROWS"]
