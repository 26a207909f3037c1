"""`DatasetService` on the memory profile: the stages run here as their jobs would run them.

The memory backend runs no commands, so each test plays the job: it calls `gather` and
`process` with the payload the submitted job carries, then records the job's outcome the way
tracking would. What these show: a run is its gather job (the same request finds it), bad
input writes nothing, a hostile archive uploads nothing, the same folder contents make one
process job, changed contents a new one, and a superseded job loads nothing.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from overlord.container import Container
from overlord.domain.dataset_runs import RunStatus
from overlord.domain.errors import InvalidArchive, InvalidInput, InvalidName, NotFound
from overlord.domain.jobs import JobStatus
from overlord.samples.call_report_bulk import BUNDLED, bulk_zip, members
from overlord.services.dataset_upload import complete_folders
from overlord.testing import provisioned_memory_container

TENANT, CONNECTOR, DATASET, PERIOD = "acme", "bank-reports", "call-reports", "2026-03-31"
BUCKET = "overlord-acme-bank-reports"
PAGE = "https://cdr.ffiec.gov/public/PWS/DownloadBulkData.aspx"


@pytest.fixture
def container() -> Container:
    return provisioned_memory_container(TENANT, CONNECTOR)


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 4, 30, 0, 0, 0)), data)
    return buffer.getvalue()


def finish(container: Container, job_id: str, status: JobStatus = JobStatus.SUCCEEDED) -> None:
    """End the job on the memory backend and track it, as events from a real one would."""
    backend_id = container.jobs().get(TENANT, job_id).backend_job_id
    assert backend_id is not None
    runner = container.job_runner()
    runner.advance(backend_id, JobStatus.RUNNING)  # type: ignore[attr-defined]
    runner.advance(backend_id, status, exit_code=0 if status is JobStatus.SUCCEEDED else 1)  # type: ignore[attr-defined]
    container.jobs().refresh(TENANT, job_id)


def gather_job(container: Container, run_id: str) -> dict[str, Any]:
    return container.jobs().get(TENANT, run_id).payload


def run_everything(container: Container, run_id: str) -> None:
    """Play the gather job, then every process job it submitted (not those it found done)."""
    datasets = container.datasets()
    record = datasets.gather(TENANT, CONNECTOR, run_id, gather_job(container, run_id))
    finish(container, run_id)
    for folder in record.folders:
        if not folder.job_created:
            continue
        payload = container.jobs().get(TENANT, folder.job_id).payload
        datasets.process(TENANT, CONNECTOR, folder.job_id, payload)
        finish(container, folder.job_id)


def test_a_run_gathers_the_archive_and_loads_one_table_per_schedule(container: Container) -> None:
    datasets = container.datasets()
    started = datasets.start(
        TENANT,
        CONNECTOR,
        DATASET,
        params={"period": PERIOD},
        archive=bulk_zip(),
        archive_name=BUNDLED,
    )
    assert (started.created, started.run.status) == (True, RunStatus.GATHERING)

    run_everything(container, started.run.run_id)

    run = datasets.run(TENANT, started.run.run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert {(f.table, f.files, f.rows, f.action) for f in run.folders} == {
        ("call_por", 1, 3, "loaded"),
        ("call_rc", 1, 3, "loaded"),
        ("call_rcb", 2, 3, "loaded"),
        ("call_ri", 1, 3, "loaded"),
    }
    tables = container.table_sink()
    assert sorted(tables.tables()) == ["call_por", "call_rc", "call_rcb", "call_ri"]
    again = datasets.start(
        TENANT,
        CONNECTOR,
        DATASET,
        params={"period": PERIOD},
        archive=bulk_zip(),
        archive_name=BUNDLED,
    )
    assert (again.created, again.run.run_id) == (False, started.run.run_id)


def test_a_new_run_of_the_same_contents_reuses_their_process_jobs(container: Container) -> None:
    datasets = container.datasets()
    first = datasets.start(
        TENANT, CONNECTOR, DATASET, params={"period": PERIOD}, archive=bulk_zip()
    )
    run_everything(container, first.run.run_id)
    second = datasets.start(
        TENANT,
        CONNECTOR,
        DATASET,
        params={"period": PERIOD},
        archive=bulk_zip(),
        idempotency_key="again",
    )
    record = datasets.gather(
        TENANT, CONNECTOR, second.run.run_id, gather_job(container, second.run.run_id)
    )
    finish(container, second.run.run_id)

    assert {f.upload for f in record.folders} == {"unchanged"}
    assert not any(f.job_created for f in record.folders)
    run = datasets.run(TENANT, second.run.run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert {f.action for f in run.folders} == {"unchanged"}


def test_changed_contents_make_a_new_process_job_and_the_old_one_loads_nothing(
    container: Container,
) -> None:
    datasets = container.datasets()
    first = datasets.start(
        TENANT, CONNECTOR, DATASET, params={"period": PERIOD}, archive=bulk_zip()
    )
    record = datasets.gather(
        TENANT, CONNECTOR, first.run.run_id, gather_job(container, first.run.run_id)
    )
    old = next(f for f in record.folders if f.table == "call_ri")
    files = members()
    ri = next(name for name in files if " RI " in name)
    files[ri] = files[ri].replace(b"420", b"421")
    second = datasets.start(
        TENANT, CONNECTOR, DATASET, params={"period": PERIOD}, archive=zipped(files)
    )
    newer = datasets.gather(
        TENANT, CONNECTOR, second.run.run_id, gather_job(container, second.run.run_id)
    )
    new = next(f for f in newer.folders if f.table == "call_ri")
    assert (new.upload, new.job_created) == ("written", True)
    assert new.job_id != old.job_id

    stale = datasets.process(
        TENANT, CONNECTOR, old.job_id, container.jobs().get(TENANT, old.job_id).payload
    )
    assert (stale.action, stale.rows) == ("superseded", 0)
    assert "call_ri" not in container.table_sink().tables()
    fresh = datasets.process(
        TENANT, CONNECTOR, new.job_id, container.jobs().get(TENANT, new.job_id).payload
    )
    assert (fresh.action, fresh.rows) == ("loaded", 3)
    rows = {row["idrssd"]: row["riad4340"] for row in container.table_sink().read("call_ri")}
    assert rows[37] == 421


def test_contents_that_come_back_after_a_change_load_again(container: Container) -> None:
    """A, then B, then A again: the table ends with A's rows, not B's."""
    datasets = container.datasets()
    files = members()
    ri = next(name for name in files if " RI " in name)
    changed = {**files, ri: files[ri].replace(b"420", b"421")}
    for key, contents in (("a", files), ("b", changed), ("a-again", files)):
        started = datasets.start(
            TENANT,
            CONNECTOR,
            DATASET,
            params={"period": PERIOD},
            archive=zipped(contents),
            idempotency_key=key,
        )
        run_everything(container, started.run.run_id)
        run = datasets.run(TENANT, started.run.run_id)
        assert run.status is RunStatus.SUCCEEDED
        rows = {row["idrssd"]: row["riad4340"] for row in container.table_sink().read("call_ri")}
        assert rows[37] == (421 if key == "b" else 420)
        assert next(f.action for f in run.folders if f.table == "call_ri") == "loaded"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"params": {"period": "../x"}}, InvalidInput, "period"),
        ({"params": {"bad name": "x"}}, InvalidInput, "parameter name"),
        ({"params": {"n": 5}}, InvalidInput, "expected a string"),
        ({"source_url": "ftp://mirror"}, InvalidInput, "mirror"),
        ({"source_url": "http://127.0.0.1:8000/path?q=1"}, InvalidInput, "only scheme, host"),
        ({"archive": b"x", "archive_name": "../x.zip"}, InvalidName, "archive"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    container: Container, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        container.datasets().start(TENANT, CONNECTOR, DATASET, **kwargs)

    assert container.jobs().list(TENANT) == []
    assert container.object_store().list_objects(BUCKET, "incoming/") == []


def test_an_unknown_dataset_or_connector_is_not_found(container: Container) -> None:
    datasets = container.datasets()
    with pytest.raises(NotFound, match="has no dataset 'nope'; it has call-reports"):
        datasets.start(TENANT, CONNECTOR, "nope")
    with pytest.raises(NotFound, match="has no connector 'weather'"):
        datasets.start(TENANT, "weather", DATASET)
    with pytest.raises(NotFound):
        datasets.run(TENANT, "0" * 32)
    assert container.jobs().list(TENANT) == []


@pytest.mark.parametrize(
    ("files", "error", "message"),
    [
        ({"../escape.txt": b"x"}, InvalidName, "escape"),
        ({"FFIEC CDR Call Schedule RC 0331.txt": b"x"}, InvalidName, "is not named as"),
    ],
)
def test_a_gather_that_refuses_its_archive_uploads_nothing(
    container: Container, files: dict[str, bytes], error: type[Exception], message: str
) -> None:
    datasets = container.datasets()
    started = datasets.start(
        TENANT, CONNECTOR, DATASET, params={"period": PERIOD}, archive=zipped(files)
    )
    with pytest.raises(error, match=message):
        datasets.gather(
            TENANT, CONNECTOR, started.run.run_id, gather_job(container, started.run.run_id)
        )

    assert container.object_store().list_objects(BUCKET, "raw/") == []
    finish(container, started.run.run_id, JobStatus.FAILED)
    run = datasets.run(TENANT, started.run.run_id)
    assert run.status is RunStatus.FAILED
    assert run.errors[0].startswith("gather: ")


def test_a_file_that_is_not_a_zip_is_refused_before_anything_else(container: Container) -> None:
    datasets = container.datasets()
    started = datasets.start(
        TENANT, CONNECTOR, DATASET, params={"period": PERIOD}, archive=b"<html>Service unavailable"
    )
    with pytest.raises(InvalidArchive, match="not a zip"):
        datasets.gather(
            TENANT, CONNECTOR, started.run.run_id, gather_job(container, started.run.run_id)
        )
    assert container.object_store().list_objects(BUCKET, "raw/") == []


def test_a_scraped_run_takes_its_files_from_the_source(container: Container) -> None:
    container.source().serve(PAGE, "FFIEC CDR Call Bulk All Schedules 03312026.zip", bulk_zip())  # type: ignore[attr-defined]
    datasets = container.datasets()
    started = datasets.start(TENANT, CONNECTOR, DATASET, params={"period": PERIOD})
    run_everything(container, started.run.run_id)

    run = datasets.run(TENANT, started.run.run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert [f.name for f in run.files] == ["FFIEC CDR Call Bulk All Schedules 03312026.zip"]
    assert len(complete_folders(container.object_store(), BUCKET, DATASET, PERIOD)) == 4


def test_gathering_without_processing_submits_no_process_job(container: Container) -> None:
    datasets = container.datasets()
    started = datasets.start(
        TENANT, CONNECTOR, DATASET, params={"period": PERIOD}, archive=bulk_zip(), process=False
    )
    record = datasets.gather(
        TENANT, CONNECTOR, started.run.run_id, gather_job(container, started.run.run_id)
    )

    assert [f.job_id for f in record.folders] == ["", "", "", ""]
    finish(container, started.run.run_id)
    run = datasets.run(TENANT, started.run.run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert {f.action for f in run.folders} == {"gathered"}
    assert [job.job_type for job in container.jobs().list(TENANT)] == ["gather"]
    [submitted] = [
        datasets.process_folder_key(TENANT, CONNECTOR, f"raw/{DATASET}/{PERIOD}/call_rc/")
    ]
    assert submitted.created
    with pytest.raises(NotFound, match="not complete"):
        datasets.process_folder_key(TENANT, CONNECTOR, f"raw/{DATASET}/{PERIOD}/call_xx/")


def test_a_landed_manifest_submits_its_folders_process_job_once(container: Container) -> None:
    datasets = container.datasets()
    started = datasets.start(
        TENANT, CONNECTOR, DATASET, params={"period": PERIOD}, archive=bulk_zip(), process=False
    )
    datasets.gather(
        TENANT, CONNECTOR, started.run.run_id, gather_job(container, started.run.run_id)
    )
    key = f"raw/{DATASET}/{PERIOD}/call_rc/_manifest.json"

    first = datasets.folder_created(BUCKET, key)
    again = datasets.folder_created(BUCKET, key)

    assert first is not None
    assert again is not None
    assert (first.created, again.created, again.job.id) == (True, False, first.job.id)
    assert datasets.folder_created(BUCKET, f"raw/{DATASET}/{PERIOD}/call_rc/x.txt") is None
    assert datasets.folder_created("someone-elses-bucket", key) is None
