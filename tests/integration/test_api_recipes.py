"""HttpSource walks API recipes against the local observations API (tests/observations_api.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from overlord.adapters.http.recipe import Pacer
from overlord.adapters.http.source import HttpSource
from overlord.adapters.local.secrets import EnvironSecrets
from overlord.domain.api_recipes import (
    ApiAuth,
    ApiEntities,
    ApiWindow,
    Pagination,
    PaginationStyle,
    WindowFormat,
)
from overlord.domain.datasets import ApiSource
from overlord.domain.errors import (
    BackendError,
    InvalidInput,
    NotFound,
    OverlordError,
    Throttled,
)
from tests.observations_api import KEY, ObservationsApi, serve_observations

HEADER = ApiAuth("WEATHER_API", header="X-Api-Key")
TOKEN = Pagination(style=PaginationStyle.TOKEN, token="meta.next_token", param="page_token")
WINDOW = {"start": "2026-01-01T01:00:00+00:00", "end": "2026-01-01T05:00:00Z"}


@pytest.fixture(scope="module")
def api() -> Iterator[ObservationsApi]:
    with serve_observations() as server:
        yield server


def source(secret: str = KEY, **options: object) -> HttpSource:
    secrets = EnvironSecrets({"OVERLORD_SECRET_WEATHER_API": secret})
    return HttpSource(secrets=secrets, sleep=lambda _: None, backoff_seconds=0.01, **options)  # type: ignore[arg-type]


def recipe(api: ObservationsApi, path: str, **fields: object) -> ApiSource:
    params = (("start", "{start}"), ("end", "{end}"), ("station", "{station}"))
    defaults: dict[str, object] = {"auth": HEADER, "records": "features", "window": ApiWindow()}
    return ApiSource(f"{api.url}{path}", params, **{**defaults, **fields})  # type: ignore[arg-type]


def lines(files: list[Path]) -> list[dict[str, object]]:
    return [json.loads(line) for f in files for line in f.read_text("utf-8").splitlines()]


def times(destination: Path) -> list[str]:
    rows = lines(sorted(destination.glob("*.ndjson")))
    return [r["properties"]["timestamp"] for r in rows]  # type: ignore[index]


def assert_no_secret(destination: Path, *texts: str) -> None:
    for text in texts:
        assert KEY not in text
    for path in destination.rglob("*"):
        assert KEY not in path.name
        if path.is_file():
            assert KEY.encode() not in path.read_bytes()


EXPECTED = [
    "2026-01-01T01:00:00Z",
    "2026-01-01T02:00:00Z",
    "2026-01-01T03:00:00Z",
    "2026-01-01T04:00:00Z",
]


def test_token_pages_land_as_one_ndjson_file_each_filtered_by_the_window(
    api: ObservationsApi, tmp_path: Path
) -> None:
    gzipped = api.gzipped
    files = source().fetch(
        recipe(api, "/v1/token", pagination=TOKEN), tmp_path, values={**WINDOW, "station": "KSEA"}
    )
    assert [f.name for f in files] == ["all-00001.ndjson", "all-00002.ndjson"]
    assert times(tmp_path) == EXPECTED
    first = files[0].path.read_text("utf-8").splitlines()[0]
    assert first == json.dumps(json.loads(first), sort_keys=True, separators=(",", ":"))
    assert api.gzipped - gzipped >= 2
    assert_no_secret(tmp_path)


def test_the_same_window_lands_the_same_files(api: ObservationsApi, tmp_path: Path) -> None:
    values = {**WINDOW, "station": "KPDX"}
    first = source().fetch(
        recipe(api, "/v1/token", pagination=TOKEN), tmp_path / "a", values=values
    )
    again = source().fetch(
        recipe(api, "/v1/token", pagination=TOKEN), tmp_path / "b", values=values
    )
    assert [(f.name, f.sha256) for f in first] == [(f.name, f.sha256) for f in again]


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/v1/next", {"pagination": Pagination(style=PaginationStyle.NEXT_URL, url="links.next")}),
        ("/v1/link", {"pagination": Pagination(style=PaginationStyle.LINK_HEADER)}),
        (
            "/v1/page",
            {"records": "", "pagination": Pagination(style=PaginationStyle.PAGE, param="page")},
        ),
        (
            "/v1/offset",
            {
                "records": "data",
                "pagination": Pagination(
                    style=PaginationStyle.OFFSET, param="offset", limit_param="limit", limit=3
                ),
            },
        ),
    ],
)
def test_every_pagination_style_reaches_every_record(
    api: ObservationsApi, tmp_path: Path, path: str, fields: dict[str, object]
) -> None:
    files = source().fetch(
        recipe(api, path, **fields), tmp_path, values={**WINDOW, "station": "KSEA"}
    )
    assert times(tmp_path) == EXPECTED
    assert len(files) >= 2
    assert_no_secret(tmp_path)


def test_entities_are_fetched_each_into_their_own_files(
    api: ObservationsApi, tmp_path: Path
) -> None:
    source_ = recipe(
        api,
        "/v1/token",
        pagination=TOKEN,
        entities=ApiEntities("station", "stations"),
        rate_per_second=50.0,
    )
    files = source().fetch(source_, tmp_path, values={**WINDOW, "stations": "KSEA,KBOI"})
    assert [f.name for f in files] == [
        "KBOI-00001.ndjson",
        "KBOI-00002.ndjson",
        "KSEA-00001.ndjson",
        "KSEA-00002.ndjson",
    ]
    stations = {r["station"] for r in lines([f.path for f in files])}
    assert stations == {"KSEA", "KBOI"}


def test_429_and_503_are_waited_out(api: ObservationsApi, tmp_path: Path) -> None:
    waits: list[float] = []
    http = HttpSource(
        secrets=EnvironSecrets({"OVERLORD_SECRET_WEATHER_API": KEY}),
        sleep=waits.append,
        backoff_seconds=0.01,
    )
    values = {**WINDOW, "station": "KSEA", "faults": "1"}
    params = (
        ("start", "{start}"),
        ("end", "{end}"),
        ("station", "{station}"),
        ("faults", "{faults}"),
    )
    recipe_ = ApiSource(
        f"{api.url}/v1/token",
        params,
        auth=HEADER,
        records="features",
        pagination=TOKEN,
        window=ApiWindow(),
    )
    http.fetch(recipe_, tmp_path, values=values)
    assert times(tmp_path) == EXPECTED
    assert waits.count(1.0) == 2  # each page's Retry-After: 1


def test_throttling_after_the_last_retry_names_the_request_without_the_secret(
    api: ObservationsApi, tmp_path: Path
) -> None:
    auth = ApiAuth("WEATHER_API", query="api_key")
    params = (("station", "{station}"), ("faults", "1"))
    recipe_ = ApiSource(f"{api.url}/v1/token", params, auth=auth, records="features")
    with pytest.raises(Throttled) as caught:
        source(max_attempts=1).fetch(recipe_, tmp_path, values={"station": "KSEA"})
    assert "/v1/token" in caught.value.message
    assert "station=KSEA" in caught.value.message
    assert_no_secret(tmp_path, str(caught.value))
    assert list(tmp_path.iterdir()) == []


def test_bearer_and_query_credentials_are_accepted(api: ObservationsApi, tmp_path: Path) -> None:
    for name, auth in [
        ("bearer", ApiAuth("WEATHER_API", scheme="Bearer")),
        ("query", ApiAuth("WEATHER_API", query="api_key")),
    ]:
        source().fetch(
            recipe(api, "/v1/token", auth=auth, pagination=TOKEN),
            tmp_path / name,
            values={**WINDOW, "station": "KSEA"},
        )
        assert times(tmp_path / name) == EXPECTED


def test_a_wrong_key_is_reported_without_any_key(api: ObservationsApi, tmp_path: Path) -> None:
    wrong = "wrong-key-0000"
    auth = ApiAuth("WEATHER_API", query="api_key")
    with pytest.raises(OverlordError) as caught:
        source(secret=wrong).fetch(
            recipe(api, "/v1/token", auth=auth), tmp_path, values={**WINDOW, "station": "KSEA"}
        )
    assert "401" in str(caught.value)
    assert wrong not in str(caught.value)


def test_a_missing_secret_is_not_found_before_any_request(
    api: ObservationsApi, tmp_path: Path
) -> None:
    http = HttpSource(secrets=EnvironSecrets({}))
    before = len(api.requests)
    with pytest.raises(NotFound, match="OVERLORD_SECRET_WEATHER_API"):
        http.fetch(recipe(api, "/v1/token"), tmp_path, values={**WINDOW, "station": "KSEA"})
    assert len(api.requests) == before


def test_max_pages_stops_a_walk_that_would_not_end(api: ObservationsApi, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="max_pages=1"):
        source().fetch(
            recipe(api, "/v1/token", pagination=TOKEN, max_pages=1),
            tmp_path,
            values={**WINDOW, "station": "KSEA"},
        )
    assert list(tmp_path.iterdir()) == []


def test_a_recipe_without_records_keeps_the_body_as_one_file(
    api: ObservationsApi, tmp_path: Path
) -> None:
    files = source().fetch(
        recipe(api, "/v1/token", records=None), tmp_path, values={**WINDOW, "station": "KSEA"}
    )
    assert [f.name for f in files] == ["token.json"]
    assert len(json.loads(files[0].path.read_bytes())["features"]) == 2


def test_epoch_windows_are_sent_as_seconds(api: ObservationsApi, tmp_path: Path) -> None:
    url = recipe(api, "/v1/token", window=ApiWindow(WindowFormat.EPOCH)).render(
        {**WINDOW, "station": "KSEA"}
    )
    assert "start=1767229200" in url


def test_a_recipe_with_auth_needs_a_secrets_adapter(api: ObservationsApi, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="WEATHER_API"):
        HttpSource().fetch(recipe(api, "/v1/token"), tmp_path, values={**WINDOW, "station": "KSEA"})


def test_requests_are_paced_to_the_rate_across_threads() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    pacer = Pacer(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert waits == [0.25, 0.5]


def test_backoff_waits_carry_jitter_between_half_and_all_of_the_doubled_wait(
    api: ObservationsApi, tmp_path: Path
) -> None:
    waits: list[float] = []
    http = HttpSource(sleep=waits.append, backoff_seconds=1.0, max_attempts=3, jitter=lambda: 0.0)
    with pytest.raises(BackendError, match="failed"):
        http.fetch(ApiSource("http://127.0.0.1:9/v1/x"), tmp_path)
    assert waits == [0.5, 1.0]
