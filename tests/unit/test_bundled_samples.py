"""The sample data shipped in ``overlord/samples``: what quickstart and the docs ingest offline
must be what its generator writes."""

from __future__ import annotations

from importlib.resources import files

from overlord.samples.call_report_bulk import BUNDLED, bulk_zip


def test_the_bundled_call_report_zip_is_exactly_what_bulk_zip_writes() -> None:
    bundled = (files("overlord.samples") / BUNDLED).read_bytes()

    assert bundled == bulk_zip(), (
        f"regenerate it: python -m overlord.samples.call_report_bulk src/overlord/samples/{BUNDLED}"
    )
