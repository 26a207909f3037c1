"""The weather connector's ``ingest`` job: one hour of observations for a list of stations.

The real job calls a weather HTTP API; no network is available to the samples, so each
observation is synthesised from the station id and the hour — the same inputs always give the
same observation, which keeps reruns and tests predictable. ``{"fail": true}`` in the payload
makes the job fail, for trying out retries.

    OVERLORD_PAYLOAD='{"stations": ["KSEA", "KJFK"]}' python -m overlord.samples.weather ingest
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    return run("overlord.samples.weather", {"ingest": ingest}, argv, environ)


if __name__ == "__main__":
    sys.exit(main())
