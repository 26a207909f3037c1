"""The sample data shipped in ``overlord/samples``: what quickstart and the docs ingest offline
must be what its generator writes, and a recording a recipe can walk to its end."""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from urllib.parse import parse_qsl, urlsplit

import pytest

from overlord.adapters.local.template_files import bundled_templates
from overlord.domain.connectors import ConnectorTemplate
from overlord.domain.windows import Window, parse_instant
from overlord.recorded_api import NWS_STATIONS, NWS_WINDOW, Recording
from overlord.samples.call_report_bulk import BUNDLED, bulk_zip
from overlord.samples.weather import observation_row


def test_the_bundled_call_report_zip_is_exactly_what_bulk_zip_writes() -> None:
    bundled = (files("overlord.samples") / BUNDLED).read_bytes()

    assert bundled == bulk_zip(), (
        f"regenerate it: python -m overlord.samples.call_report_bulk src/overlord/samples/{BUNDLED}"
    )


def test_every_recorded_observation_is_a_row_of_its_station_inside_the_recorded_window() -> None:
    recording = Recording.bundled()
    window = Window.of(*NWS_WINDOW)

    rows = []
    for exchange in recording.exchanges:
        station = exchange.path.split("/")[2]
        query = dict(exchange.query)
        assert (query["start"], query["end"]) == NWS_WINDOW
        for feature in exchange.body["features"]:
            row = observation_row(feature)
            assert row["station_id"] == station
            assert window.holds(parse_instant(row["observed_at"], "timestamp"))
            rows.append((row["station_id"], row["observed_at"]))

    assert len(rows) == len(set(rows)) == 7
    assert sorted({station for station, _ in rows}) == sorted(NWS_STATIONS.split(","))


def test_every_next_page_the_recording_names_is_recorded_and_every_walk_ends() -> None:
    recording = Recording.bundled()
    recorded = {(e.path, e.query) for e in recording.exchanges}

    followed = []
    for exchange in recording.exchanges:
        link = exchange.body.get("pagination", {}).get("next")
        if link is not None:
            assert link.startswith(recording.origin + "/")
            parts = urlsplit(link)
            target = (parts.path, tuple(sorted(parse_qsl(parts.query))))
            assert target in recorded
            followed.append(target)

    assert len(followed) == 1  # KSEA's second page, which names no page after it
    [last] = [e for e in recording.exchanges if (e.path, e.query) == followed[0]]
    assert "pagination" not in last.body


@pytest.mark.parametrize("template", bundled_templates(), ids=lambda t: t.name)
def test_every_command_of_a_bundled_connector_runs_a_module_overlord_ships(
    template: ConnectorTemplate,
) -> None:
    # A job runs its type's command, else the job definition's: a module renamed away leaves
    # every such job failing at start, on AWS only, long after the template was provisioned.
    commands = [template.compute.job_definition.command]
    commands += [spec.command for spec in template.job_types if spec.command]
    for command in commands:
        assert command[:2] == ("python", "-m"), command
        assert importlib.util.find_spec(command[2]) is not None, command
