"""API-dataset fixtures: the weather connector's observations on either partitioning trigger,
and the National Weather Service pages a window's gather fetches, served by a `MemorySource`.

`weather_events` is the bundled weather template as a connector of its own (``weather-events``)
whose ``observations`` dataset is partitioned on object-created events, beside
``observations-hourly``: the same recipe partitioned by the window's partition job. Register it
with ``container.catalog().add(weather_events(container))`` before provisioning it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from overlord.adapters.memory.source import MemorySource
from overlord.container import Container
from overlord.domain.datasets import ApiSource
from overlord.domain.template_parsing import template_to_mapping
from overlord.domain.windows import Window, instant_text

CONNECTOR = "weather-events"
EVENT, WINDOW = "observations", "observations-hourly"
STATIONS = ("KSEA", "KJFK")
PARAMS = {"stations": ",".join(STATIONS)}
T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


def weather_events(container: Container) -> dict[str, Any]:
    """The template data of ``weather-events`` (see the module); no schedules, which would
    poll the real API."""
    data: dict[str, Any] = template_to_mapping(container.catalog().get("weather"))
    data["name"] = CONNECTOR
    data["description"] = "Weather observations partitioned on events and by window"
    data.pop("schedules", None)
    [observations] = data["datasets"]
    hourly = json.loads(json.dumps(observations))
    observations["partitioning"]["trigger"] = "event"
    hourly["name"] = WINDOW
    hourly["partitioning"]["trigger"] = "window"
    data["datasets"] = [observations, hourly]
    return data


def feature(station: str, moment: datetime, temperature: float) -> dict[str, Any]:
    """One observation as the NWS API answers it (a GeoJSON feature)."""
    return {
        "id": f"https://api.weather.gov/stations/{station}/observations/{instant_text(moment)}",
        "type": "Feature",
        "properties": {
            "station": f"https://api.weather.gov/stations/{station}",
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "temperature": {"unitCode": "wmoUnit:degC", "value": temperature},
        },
    }


def observations(window: Window, every: timedelta = timedelta(minutes=20)) -> list[dict[str, Any]]:
    """Every station's readings in ``window``, one each ``every``, with distinct values."""
    found = []
    moment = window.start
    while moment < window.end:
        for i, station in enumerate(STATIONS):
            minutes = (moment - T0).total_seconds() / 60
            found.append(feature(station, moment, round(minutes / 10 + i, 1)))
        moment += every
    return found


def serve_window(web: MemorySource, source: ApiSource, window: Window) -> int:
    """Serve what the gather of ``window`` fetches, part by part and station by station, as the
    recipe renders its URLs; how many observations that is."""
    max_span = source.window.max_span if source.window else None
    served = 0
    for part in window.split(max_span):
        for station in STATIONS:
            url = source.render(
                {
                    **PARAMS,
                    "station": station,
                    "start": instant_text(part.start),
                    "end": instant_text(part.end),
                }
            )
            features = [
                f for f in observations(part) if f["properties"]["station"].endswith(station)
            ]
            web.serve(url, "observations.json", json.dumps({"features": features}).encode())
            served += len(features)
    return served
