"""Read an API recipe's optional fields from plain data, naming the path of whatever is wrong.

Apart from `overlord.domain.dataset_parsing` so that module stays about datasets; its ``api``
branch hands the source's reader here and builds the `ApiSource` from what comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from overlord.domain.api_recipes import (
    PAGINATION_FIELDS,
    ApiAuth,
    ApiEntities,
    ApiWindow,
    Pagination,
    PaginationStyle,
    WindowFormat,
    check_dotted_path,
    parse_span,
)
from overlord.domain.errors import InvalidInput, InvalidTemplate
from overlord.domain.plain_data import Reader

T = TypeVar("T")
P = ParamSpec("P")
API_FIELDS = {
    "url_template",
    "params",
    "auth",
    "pagination",
    "max_pages",
    "records",
    "time_field",
    "rate_per_second",
    "timeout_seconds",
    "window",
    "entities",
}


def _make(path: str, build: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return build(*args, **kwargs)
    except InvalidInput as exc:
        raise InvalidTemplate(f"{path}: {exc.message}") from None


def api_recipe(r: Reader) -> dict[str, Any]:
    """The keyword arguments of `ApiSource` beyond its URL and parameters."""
    recipe: dict[str, Any] = {"max_pages": r.integer("max_pages", 1000, 1, 1_000_000)}
    if r.has("auth"):
        a = Reader(r.data["auth"], r.at("auth"), {"secret", "header", "query", "scheme"})
        places = {k: a.text(k) for k in ("header", "query", "scheme") if a.has(k)}
        recipe["auth"] = _make(a.path, ApiAuth, a.text("secret"), **places)
    if r.has("pagination"):
        recipe["pagination"] = _pagination(r.data["pagination"], r.at("pagination"))
    for key in ("records", "time_field"):
        if r.has(key):
            value = r.data[key]
            recipe[key] = _make(r.at(key), check_dotted_path, key, value, empty=key == "records")
    for key in ("rate_per_second", "timeout_seconds"):
        if r.has(key):
            recipe[key] = r.number(key, 1.0, 1e-6, 86_400)
    if r.has("window"):
        w = Reader(r.data["window"], r.at("window"), {"format", "max_span", "overlap"})
        span = (
            _make(w.at("max_span"), parse_span, w.data["max_span"]) if w.has("max_span") else None
        )
        overlap = (
            _make(w.at("overlap"), parse_span, w.data["overlap"])
            if w.has("overlap")
            else timedelta(0)
        )
        recipe["window"] = ApiWindow(
            w.choice("format", WindowFormat, WindowFormat.ISO), span, overlap
        )
    if r.has("entities"):
        e = Reader(r.data["entities"], r.at("entities"), {"param", "from"})
        recipe["entities"] = _make(e.path, ApiEntities, e.text("param"), e.text("from"))
    return recipe


def _pagination(data: object, path: str) -> Pagination:
    style = Reader(data, path, {"style", *set().union(*PAGINATION_FIELDS.values())})
    chosen = style.choice("style", PaginationStyle, PaginationStyle.TOKEN)
    if not style.has("style"):
        raise InvalidTemplate(f"{style.at('style')}: missing")
    p = Reader(data, path, {"style"} | PAGINATION_FIELDS[chosen])
    texts = {k: p.text(k) if p.has(k) else None for k in ("token", "param", "url", "limit_param")}
    return _make(
        path,
        Pagination,
        style=chosen,
        token=texts["token"],
        param=texts["param"],
        url=texts["url"],
        limit_param=texts["limit_param"],
        start=p.integer("start", 1, 0, 1_000_000),
        limit=p.integer("limit", 100, 1, 1_000_000),
    )
