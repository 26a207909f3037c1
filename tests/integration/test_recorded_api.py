"""The recorded NWS API on 127.0.0.1 (`overlord.recorded_api`) walked by the weather connector's
own recipe, as quickstart and the docs run it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from overlord.adapters.http.source import HttpSource
from overlord.domain.datasets import ApiSource
from overlord.recorded_api import NWS_STATIONS, NWS_WINDOW, RecordedApi, Recording, serve
from overlord.testing import provisioned_memory_container

FIRST_KSEA = "/stations/KSEA/observations?start=2026-01-05T06:00:00Z&end=2026-01-05T09:00:00Z"


@pytest.fixture
def api() -> Iterator[RecordedApi]:
    with serve(Recording.bundled()) as server:
        yield server


def weather_recipe() -> ApiSource:
    container = provisioned_memory_container("acme", "weather")
    source = container.datasets().dataset("acme", "weather", "observations").source
    assert isinstance(source, ApiSource)
    return source


def test_the_weather_recipe_mirrored_onto_the_recording_lands_every_page_of_both_stations(
    api: RecordedApi, tmp_path: Path
) -> None:
    start, end = NWS_WINDOW
    values = {"stations": NWS_STATIONS, "start": start, "end": end}

    fetched = HttpSource().fetch(weather_recipe().mirrored(api.url), tmp_path, values=values)

    assert [f.name for f in fetched] == [
        "KJFK-00001.ndjson",
        "KSEA-00001.ndjson",
        "KSEA-00002.ndjson",
    ]
    assert sum("cursor=" in target for target in api.requests) == 1
    assert len(api.requests) == 3
    records = [json.loads(line) for f in fetched for line in f.path.read_text().splitlines()]
    times = sorted(
        r["properties"]["timestamp"] for r in records if r["properties"]["stationId"] == "KSEA"
    )
    assert times == [
        "2026-01-05T06:53:00+00:00",  # the second page
        "2026-01-05T07:14:00+00:00",  # a special report between two routine ones
        "2026-01-05T07:53:00+00:00",
        "2026-01-05T08:53:00+00:00",
    ]
    # What lands is what the real API sent: ids and stations still name api.weather.gov.
    assert {r["properties"]["station"] for r in records} == {
        "https://api.weather.gov/stations/KSEA",
        "https://api.weather.gov/stations/KJFK",
    }


def test_the_window_served_from_another_port_lands_the_same_bytes(tmp_path: Path) -> None:
    start, end = NWS_WINDOW
    values = {"stations": NWS_STATIONS, "start": start, "end": end}
    digests = []
    for run in ("a", "b"):
        with serve(Recording.bundled()) as api:
            recipe = weather_recipe().mirrored(api.url)
            fetched = HttpSource().fetch(recipe, tmp_path / run, values=values)
        digests.append([(f.name, f.sha256) for f in fetched])

    assert digests[0] == digests[1]


def test_only_the_next_link_is_moved_onto_the_server(api: RecordedApi) -> None:
    with urlopen(api.url + FIRST_KSEA) as response:
        kind = response.headers["Content-Type"]
        body = json.load(response)

    assert kind == "application/geo+json"
    assert body["pagination"]["next"].startswith(f"{api.url}/stations/KSEA/observations?")
    assert body["features"][0]["id"].startswith("https://api.weather.gov/stations/KSEA/")
    assert body["@context"][1]["wx"] == "https://api.weather.gov/ontology#"


def test_a_request_nothing_was_recorded_for_is_a_404_problem_naming_it(api: RecordedApi) -> None:
    with pytest.raises(HTTPError) as caught:
        urlopen(f"{api.url}/stations/KSEA/observations?start=2026-01-05T05:00:00Z")

    error = caught.value
    assert (error.code, error.headers["Content-Type"]) == (404, "application/problem+json")
    problem = json.loads(error.read())
    assert problem["status"] == 404
    assert "GET /stations/KSEA/observations?start=2026-01-05T05:00:00Z" in problem["detail"]


def test_the_module_serves_the_bundled_recording_until_it_is_stopped() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "overlord.recorded_api", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert line.startswith("serving https://api.weather.gov as recorded at http://127.0.0.1:")
        with urlopen(url + FIRST_KSEA.replace("KSEA", "KJFK")) as response:
            assert len(json.load(response)["features"]) == 3
    finally:
        server.terminate()
        server.wait(timeout=10)
