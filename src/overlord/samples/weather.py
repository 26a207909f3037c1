"""The weather connector's code: the ``weather-observations`` cleaner and the ``ingest`` job.

The ``observations`` dataset lands the National Weather Service API's GeoJSON observations as
NDJSON pages; `clean_observations` turns a landed folder into the ``observations`` table: one
row per station and time, in SI units the API reports (``temperature_c``, ``wind_kph``,
``pressure_hpa`` from pascals), a missing reading as NULL, and the same reading landed twice
(two overlapping windows) kept once.

The ``ingest`` job is the jobs tutorial's: it synthesises one hour of observations from the
station id and the hour, without any network, so the same inputs always give the same
observation. ``{"fail": true}`` in the payload makes the job fail, for trying out retries.

    OVERLORD_PAYLOAD='{"stations": ["KSEA", "KJFK"]}' python -m overlord.samples.weather ingest
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from overlord.cleaners import file_name, open_file
from overlord.domain.cleaners import CleanerContext, CleanerFile
from overlord.domain.errors import InvalidInput
from overlord.job import JobContext
from overlord.samples import SampleError, run

_STATION = re.compile(r"[A-Z0-9]{3,5}")


def observation(station: str, hour: datetime) -> dict[str, Any]:
    """A plausible observation that depends only on ``station`` and ``hour``."""
    digest = hashlib.sha256(f"{station}|{hour.isoformat()}".encode()).digest()
    return {
        "station_id": station,
        "observed_at": hour.isoformat(),
        "temperature_c": round(-10 + digest[0] / 255 * 45, 1),
        "humidity_pct": 20 + digest[1] % 81,
        "wind_kph": round(digest[2] / 255 * 60, 1),
        "pressure_hpa": 980 + digest[3] % 60,
        "source": "synthetic",
    }


def _hour(value: Any) -> datetime:
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise SampleError(f"hour {value!r} is not an ISO 8601 datetime") from None
        if moment.utcoffset() is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        raise SampleError("hour must be an ISO 8601 datetime string")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _stations(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise SampleError("stations must be a non-empty list of station ids")
    for station in value:
        if not isinstance(station, str) or not _STATION.fullmatch(station):
            raise SampleError(f"{station!r} is not a station id (3-5 capitals or digits)")
    return value


def ingest(job: JobContext) -> None:
    payload = job.payload
    if payload.get("fail") is True:
        raise SampleError("failing because the payload asks to (fail=true)")
    stations = _stations(payload.get("stations", ["KSEA"]))
    hour = _hour(payload.get("hour"))
    job.progress(
        f"tenant {job.tenant or '-'}: ingesting {len(stations)} station(s) for {hour.isoformat()}"
    )
    for station in stations:
        job.progress(json.dumps(observation(station, hour), sort_keys=True))
    job.progress(f"ingested {len(stations)} observation(s)")


# Output column: the NWS field it comes from and a factor (pressure is reported in pascals).
_READINGS = {
    "temperature_c": ("temperature", 1.0),
    "dewpoint_c": ("dewpoint", 1.0),
    "humidity_pct": ("relativeHumidity", 1.0),
    "wind_kph": ("windSpeed", 1.0),
    "pressure_hpa": ("barometricPressure", 0.01),
}


def _reading(properties: Mapping[str, Any], field: str, factor: float) -> float | None:
    value = properties.get(field)
    number = value.get("value") if isinstance(value, Mapping) else None
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    return round(number * factor, 2)


def observation_row(feature: Mapping[str, Any]) -> dict[str, Any]:
    """One NWS observation feature as a table row; `InvalidInput` without station or time.

    >>> observation_row({"properties": {"station": "https://api.weather.gov/stations/KSEA",
    ...     "timestamp": "2026-01-05T06:53:00+00:00", "temperature": {"value": 4.4},
    ...     "barometricPressure": {"value": 101930}}})["pressure_hpa"]
    1019.3
    """
    properties = feature.get("properties")
    if not isinstance(properties, Mapping):
        raise InvalidInput("an observation has no properties")
    station = str(properties.get("station") or "").rstrip("/").rpartition("/")[2]
    observed = properties.get("timestamp")
    if not _STATION.fullmatch(station) or not isinstance(observed, str):
        raise InvalidInput(f"an observation without a station id or timestamp: {station!r}")
    row: dict[str, Any] = {"station_id": station, "observed_at": observed}
    for column, (field, factor) in _READINGS.items():
        row[column] = _reading(properties, field, factor)
    description = properties.get("textDescription")
    row["description"] = description if isinstance(description, str) else None
    return row


def clean_observations(files: Sequence[CleanerFile], context: CleanerContext) -> Any:
    """The ``weather-observations`` cleaner: NDJSON pages of features to one frame."""
    import pandas as pd

    rows = []
    for file in files:
        with open_file(file) as stream:
            for number, line in enumerate(stream.read().decode("utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        feature = json.loads(line)
                    except ValueError:
                        raise InvalidInput(f"{file_name(file)} line {number} is not JSON") from None
                    rows.append(observation_row(feature))
    columns = ["station_id", "observed_at", *_READINGS, "description"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    for column in _READINGS:
        frame[column] = frame[column].astype("Float64")
    frame = frame.astype({"station_id": "string", "description": "string"})
    return frame.drop_duplicates(["station_id", "observed_at"], keep="last").reset_index(drop=True)


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    return run("overlord.samples.weather", {"ingest": ingest}, argv, environ)


if __name__ == "__main__":
    sys.exit(main())
