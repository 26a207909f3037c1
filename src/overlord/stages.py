"""The dataset stages as job commands, for any connector that declares datasets.

A connector's ``gather`` and ``process`` job types run

    python -m overlord.stages gather     # fetch, unpack, upload the period's folders
    python -m overlord.stages process    # clean and load one folder
    python -m overlord.stages partition  # rewrite the partitions a time window touches

as plain processes, on whichever backend runs the connector's jobs (a local subprocess, an AWS
Batch container). Like any job, a stage learns who it runs for and its payload from the job SDK
(`overlord.job`); it then builds Overlord from the job's settings (``OVERLORD_PROFILE``,
``OVERLORD_HOME`` and the rest, which the runner and the job definition pass on) to reach the
tenant's bucket, documents and tables. Exit codes: 0 done, 1 the stage failed (the reason is
the last line on stderr, and in the job's status reason), 2 a usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from overlord import job
from overlord.domain.errors import OverlordError

STAGES = ("gather", "process", "partition")


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in STAGES:
        print(f"usage: python -m overlord.stages {{{','.join(STAGES)}}}", file=sys.stderr)
        return 2
    stage = argv[0]
    try:
        context = job.current(environ)
        if context.tenant is None or context.connector is None or context.job_id is None:
            print(
                f"overlord.stages {stage}: run it as a job (`overlord datasets run ...`): "
                "OVERLORD_TENANT, OVERLORD_CONNECTOR and OVERLORD_JOB_ID are not set",
                file=sys.stderr,
            )
            return 2
        from overlord.container import Container
        from overlord.settings import Settings

        container = Container.from_settings(Settings.load(environ))
        try:
            datasets = container.datasets()
            run = {
                "gather": datasets.gather,
                "process": datasets.process,
                "partition": datasets.partition,
            }[stage]
            try:
                run(
                    context.tenant,
                    context.connector,
                    context.job_id,
                    context.payload,
                    context.progress,
                )
            except OverlordError as exc:
                datasets.record_failure(
                    context.tenant, context.job_id, context.payload, exc.message
                )
                raise
        finally:
            container.shutdown_resources()
    except OverlordError as exc:
        print(f"overlord.stages {stage}: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
