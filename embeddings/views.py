"""Views: what a user looked at, as small JSON (saved views, the page URL, projector bookmarks).

A ``View`` names where the points come from (data source, tensor or metadata file, text or image
column, model, level, layer), how they
were projected (method, dims, seed and the method's parameters) and the look
(``embeddings.look.Look``: colour, label, search, selection, isolation, filters, clusters,
density, camera). It holds no vectors, so it stays small and travels as JSON or as a
URL query string; reopening it recomputes the same projection (same inputs and seed give the
same picture). A view read from a projector bookmark also carries the bookmark's coordinates
(``projection``); those stay out of its JSON, which names the bookmark (``bookmark``) instead.

Every field is checked when a view is made or read: a bad one is one ``InputError`` line naming
the field. Views are stored as JSON files (never pickles) in the user data folder
(``EMBEDDINGS_VIEWS_DIR`` moves it).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from embeddings.choices import LEVELS, VIEW_METHODS
from embeddings.errors import InputError
from embeddings.look import Look

FORMAT = 2  # the "format" number in a view's JSON (1: the look's fields at the top level)
VIEWS_DIR_ENV = "EMBEDDINGS_VIEWS_DIR"
MAX_NAME = 120
# Each method's parameters: name -> (type, URL parameter). type "int", "float", "str", "ints", "rate".
PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "pca": {"components": ("ints", "pc")},
    "umap": {"n_neighbors": ("int", "neighbors"), "min_dist": ("float", "min_dist"), "metric": ("str", "metric")},
    "tsne": {"perplexity": ("float", "perplexity"), "learning_rate": ("rate", "lr"), "n_iter": ("int", "iter")},
    "custom": {},
}
# URL parameters for the view's own fields (the look's are choices.LOOK_KEYS).
QUERY_KEYS = ("view", "data", "tensor", "metadata", "text_column", "image_column", "model", "level", "layer", "method",
              "dims", "seed", "bm")
FORMAT_1_LOOK = {"color", "label", "search", "regex", "case", "selection", "camera"}  # format 1's look fields


@dataclass(frozen=True)
class View:
    """One view of some points: source, projection recipe and look. Checked on creation."""

    name: str = ""
    data: str | None = None  # a file path, a folder, "sample:NAME", "upload:NAME", "paste:DIGEST"
    tensor: str | None = None  # which tensor of a projector config
    metadata: str | None = None  # the metadata TSV of a vectors file named by path
    text_column: str | None = None  # the column holding the texts, when not the one the reader picks itself
    image_column: str | None = None  # a table's column of image paths (the points are those images)
    model: str | None = None  # None for precomputed vectors
    level: str = "text"
    layer: int = -1
    method: str = "pca"
    dims: int = 2
    seed: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    bookmark: int | None = None  # index of the projector bookmark whose coordinates this view shows
    look: Look = field(default_factory=Look)
    projection: Any = field(default=None, compare=False, repr=False)  # reduce.Projection from a bookmark

    def __post_init__(self) -> None:
        check = _Checker("view")
        object.__setattr__(self, "name", check.text(self.name, "name", limit=MAX_NAME))
        for key in ("data", "tensor", "metadata", "text_column", "image_column", "model"):
            object.__setattr__(self, key, check.optional_text(getattr(self, key), key))
        object.__setattr__(self, "level", check.choice(self.level, "level", LEVELS))
        object.__setattr__(self, "layer", check.integer(self.layer, "layer", minimum=-1))
        object.__setattr__(self, "method", check.choice(self.method, "method", VIEW_METHODS))
        object.__setattr__(self, "dims", check.choice(self.dims, "dims", (2, 3)))
        object.__setattr__(self, "seed", check.integer(self.seed, "seed", minimum=0))
        object.__setattr__(self, "params", check.params(self.params, self.method, self.dims))
        if self.bookmark is not None:
            object.__setattr__(self, "bookmark", check.integer(self.bookmark, "bookmark", minimum=0))
        if self.method == "custom" and self.bookmark is None:
            raise InputError("view: method 'custom' comes only from a projector bookmark (bookmark is missing)")
        if not isinstance(self.look, Look):
            raise check.fail("look", f"must be a Look, not {type(self.look).__name__}")

    @classmethod
    def of_projection(cls, projection: Any, **values: Any) -> "View":
        """A view of a reduce.Projection (method, dims, its parameters), carrying its coordinates.

        `values` are the view's other fields, and the look's (color=, label=, selection=, ...)."""
        method = projection.method
        params = {k: v for k, v in dict(projection.params).items() if k in PARAMS.get(method, {})}
        seed = values.pop("seed", projection.params.get("seed", 0))
        look_fields = {f.name for f in fields(Look)}
        look_values = {k: values.pop(k) for k in list(values) if k in look_fields}
        if look_values:
            values["look"] = replace(values.get("look") or Look(), **look_values)
        return cls(method=method, dims=projection.dims, params=params, seed=seed, projection=projection, **values)

    # ---------------------------------------------------------------- the look

    def with_look(self, look: Mapping[str, Any], where_from: str = "look") -> "View":
        """A copy whose look takes the URL-spelled values given (Look.updated)."""
        return replace(self, look=self.look.updated(look, where_from))

    # ---------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "projection"}
        data["params"] = dict(self.params)
        data["look"] = self.look.to_dict()
        return {"format": FORMAT, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, data: Any, where: str = "view") -> "View":
        if not isinstance(data, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        version = data.pop("format", FORMAT)
        if version not in (1, FORMAT):
            raise InputError(f"{where}: format {version!r} is not one this version reads (1, {FORMAT})")
        if version == 1:  # the look's fields were the view's own
            old = {key: data.pop(key) for key in FORMAT_1_LOOK if key in data}
            data["look"] = old
        known = {f.name for f in fields(cls)} - {"projection"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{where}: unknown field {unknown[0]!r}")
        data["look"] = Look.from_dict(data.get("look") or {}, where)
        try:
            return cls(**data)
        except InputError as error:
            raise InputError(f"{where}: {str(error).removeprefix('view: ')}") from None

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "view") -> "View":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
        except UnicodeDecodeError:
            raise InputError(f"{where}: not UTF-8 text") from None
        return cls.from_dict(data, where)

    # ---------------------------------------------------------------- the page URL

    def to_query(self) -> dict[str, str]:
        """The view as URL query parameters (defaults left out, so links stay short)."""
        query: dict[str, str] = {}
        for key, value in (("view", self.name), ("data", self.data), ("tensor", self.tensor), ("metadata", self.metadata),
                           ("text_column", self.text_column), ("image_column", self.image_column), ("model", self.model)):
            if value:
                query[key] = value
        if self.level != "text":
            query["level"] = self.level
        if self.layer != -1:
            query["layer"] = str(self.layer)
        query["method"] = self.method
        query["dims"] = str(self.dims)
        if self.seed:
            query["seed"] = str(self.seed)
        for name, (value_type, key) in PARAMS[self.method].items():
            if name in self.params:
                value = self.params[name]
                query[key] = ",".join(str(v) for v in value) if value_type == "ints" else _plain(value)
        if self.bookmark is not None:
            query["bm"] = str(self.bookmark)
        query.update(self.look.to_query())
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> "View":
        """A view from URL query parameters (what to_query writes); a bad one is one line."""
        get = {key: _one(value) for key, value in query.items()}
        check = _Checker("link")
        method = get.get("method", "pca")
        params: dict[str, Any] = {}
        for name, (value_type, key) in PARAMS.get(method, {}).items():
            if key in get:
                params[name] = check.parse(get[key], key, value_type)
        values: dict[str, Any] = {
            "name": get.get("view", ""),
            "data": get.get("data") or None,
            "tensor": get.get("tensor") or None,
            "metadata": get.get("metadata") or None,
            "text_column": get.get("text_column") or None,
            "image_column": get.get("image_column") or None,
            "model": get.get("model") or None,
            "level": get.get("level", "text"),
            "method": method,
            "params": params,
        }
        for key, name in (("layer", "layer"), ("dims", "dims"), ("seed", "seed"), ("bm", "bookmark")):
            if key in get:
                values[name] = check.parse(get[key], key, "int")
        try:
            view = cls(**values)
        except InputError as error:
            raise InputError(f"link: {str(error).removeprefix('view: ')}") from None
        return replace(view, look=Look.from_query(get, "link"))


def _one(value: Any) -> str:
    """st.query_params gives the last value of a repeated key; a list here means the same."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    return str(value)


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


class _Checker:
    """Field checks that raise one line: '<where>: <field> ...'."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, why: str) -> InputError:
        return InputError(f"{self.where}: {key} {why}")

    def text(self, value: Any, key: str, limit: int | None = None) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be text, not {type(value).__name__}")
        if limit is not None and len(value) > limit:
            raise self.fail(key, f"is longer than {limit} characters")
        return value

    def optional_text(self, value: Any, key: str) -> str | None:
        if value is None or value == "":
            return None
        return self.text(value, key)

    def choice(self, value: Any, key: str, allowed: tuple) -> Any:
        if isinstance(value, bool) or value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(map(str, allowed))}, not {value!r}")
        return value

    def integer(self, value: Any, key: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise self.fail(key, f"must be a whole number, not {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        return int(value)

    def number(self, value: Any, key: str, minimum: float) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise self.fail(key, f"must be a number, not {value!r}")
        value = float(value) if not isinstance(value, numbers.Integral) else int(value)
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum:g}, not {value!r}")
        return value

    def rows(self, value: Any, key: str) -> tuple[int, ...]:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise self.fail(key, f"must be a list of row numbers, not {value!r}")
        return tuple(self.integer(v, f"{key} item", minimum=0) for v in value)

    def parse(self, text: str, key: str, value_type: str) -> Any:
        """A URL string as the field's type."""
        try:
            if value_type == "int":
                return int(text)
            if value_type == "float":
                return float(text)
            if value_type == "rate":
                return text if text == "auto" else float(text)
            if value_type == "ints":
                return [int(p) for p in text.split(",")]
        except ValueError:
            raise self.fail(key, f"must be {'a whole number' if value_type in ('int', 'ints') else 'a number'}, "
                            f"not {text[:40]!r}") from None
        return text

    def params(self, value: Any, method: str, dims: int) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail("params", f"must be an object, not {type(value).__name__}")
        allowed = PARAMS[method]
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name not in allowed:
                takes = ", ".join(allowed) or "no parameters"
                raise self.fail("params", f"{name!r} does not apply to {method} (it takes {takes})")
            value_type = allowed[name][0]
            key = f"params.{name}"
            if value_type == "int":
                out[name] = self.integer(item, key, minimum=1)
            elif value_type == "float":
                out[name] = self.number(item, key, minimum=0.0)
            elif value_type == "rate":
                out[name] = item if item == "auto" else self.number(item, key, minimum=0.0)
            elif value_type == "str":
                out[name] = self.text(item, key)
            else:
                items = self.rows(item, key)
                if len(items) != dims or len(set(items)) != dims:
                    raise self.fail(key, f"must be {dims} different component numbers, not {list(items)}")
                out[name] = list(items)
        return out


# ------------------------------------------------------------------ the store


def views_dir() -> Path:
    """Where saved views live: $EMBEDDINGS_VIEWS_DIR, else the user data folder."""
    override = os.environ.get(VIEWS_DIR_ENV)
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("embedding-explorer")) / "views"


def _file_name(name: str) -> str:
    slug = re.sub(r"[^\w-]+", "-", name, flags=re.ASCII).strip("-").lower()[:40] or "view"
    return f"{slug}-{hashlib.sha1(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}.json"


def save_view(view: View, folder: str | Path | None = None) -> Path:
    """Write the view as <folder>/<name>.json (replacing a view of the same name); returns the path."""
    if not view.name.strip():
        raise InputError("view: give it a name to save it")
    target = Path(folder) if folder is not None else views_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".view.", suffix=".part", dir=target)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(view.to_json() + "\n")
        path = target / _file_name(view.name)
        os.replace(temp, path)
    except OSError as error:
        raise InputError(f"{target}: cannot save views there ({error.strerror or error})") from None
    return path


def load_views(folder: str | Path | None = None) -> tuple[list[View], list[str]]:
    """Every saved view, by name, and one line for each file that is not a readable view."""
    source = Path(folder) if folder is not None else views_dir()
    views: list[View] = []
    problems: list[str] = []
    if not source.is_dir():
        return views, problems
    for path in sorted(source.glob("*.json")):
        try:
            views.append(View.from_json(path.read_bytes(), where=str(path)))
        except InputError as error:
            problems.append(str(error))
        except OSError as error:
            problems.append(f"{path}: cannot be read ({error.strerror or error})")
    views.sort(key=lambda v: v.name.lower())
    return views, problems


def delete_view(name: str, folder: str | Path | None = None) -> bool:
    """Remove the saved view of that name; False when there was none."""
    path = (Path(folder) if folder is not None else views_dir()) / _file_name(name)
    if not path.exists():
        return False
    path.unlink()
    return True


__all__ = ["View", "save_view", "load_views", "delete_view", "views_dir"]
