"""Lambda cold starts: a fresh process importing a handler and answering its first invocation.

Why: a cold Lambda environment imports the handler module, then its first invocation builds
whatever the handler needs (settings, the container, boto3 clients and their service models)
before it makes any AWS call; the caller waits for all of it. The floor is a hand-written
handler on Powertools and plain boto3 making the same AWS calls (`lambda_baseline.py`), so the
ratio says what the platform adds to a cold start. Four handlers are measured, each with the
event it exists for: ``api_handler`` answering ``GET /tenants/acme/jobs/{id}`` and ``POST
/tenants/acme/connectors/weather/jobs/ingest``, ``job_state_change_handler`` with a Batch "Job
State Change" event, and ``schedule_handler`` with an EventBridge Scheduler tick.

How: a moto server in its own process (``moto_process.py``), and tenant ``acme`` provisioned
with the weather connector on the aws profile, as in ``batch_submit_overhead.py``; every POST,
tick and state change is about a job of its own, so no invocation finds its work already done.
Each sample is one new interpreter (``python -I``) that times, with ``time.perf_counter``, the
import of the handler and its first invocation (interpreter start-up is left out, and is the
same for both ways), and with ``time.process_time`` the CPU the child spent over that span,
which leaves out moto's time and the waits for a core another process holds: on a busy machine
the CPU ratio is the steadier of the two. Overlord's and the baseline's children alternate so
that drift in machine load hits them alike. One unmeasured run of each comes first: it writes
the bytecode caches, as a deployment package built with compiled files has them, and counts the
AWS calls each way makes (a botocore handler, registered before the import, so that run is not
timed), so the output shows that both ways make the same calls. Overlord's children also check
that none of pandas, pyarrow, selenium, sqlalchemy or aioboto3 was imported; the script fails if
one was.

A deployment package holds ``overlord[aws,lambda]`` and what it requires, not the development
tools of this virtual environment. Some libraries import optional integrations when they are
installed (dependency-injector imports pydantic-settings, PyYAML and Werkzeug, which moto brings
here), so by default the children of both ways can import only the distributions that
``overlord[aws,lambda]`` requires (read from the installed metadata): the rest raise
ModuleNotFoundError, as in the package. ``--all-installed`` lets them import everything.

    python benchmarks/lambda_cold_start.py                  # median of 7 fresh processes each
    python benchmarks/lambda_cold_start.py --quick          # 3 each
    python benchmarks/lambda_cold_start.py --all-installed  # this venv as it is
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path
from typing import Any

from attrs import frozen
from batch_submit_overhead import aws_settings
from moto_process import start_moto
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import overlord
from overlord.container import Container
from overlord.domain.names import Namespace, TenantName, tenant_database
from overlord.settings import Settings

TENANT, CONNECTOR, JOB_TYPE = "acme", "weather", "ingest"
HEAVY = ("pandas", "pyarrow", "selenium", "sqlalchemy", "aioboto3")
TARGET = 1.15
HERE = Path(__file__).resolve().parent
SOURCES = Path(overlord.__file__).resolve().parents[1]

_CHILD = """
import json, sys, time
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["path"]
class NotPackaged:
    hidden = frozenset(spec["hidden"])
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.hidden:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, NotPackaged())
calls = []
if spec["count"]:
    from botocore import handlers
    def record(model, **_):
        calls.append(model.service_model.service_name + "." + model.name)
    handlers.BUILTIN_HANDLERS.append(("before-call", record))
class Context:
    aws_request_id = "cold-start-" + spec["way"]
    function_name = "cold-start"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cold-start"
cpu = time.process_time()
started = time.perf_counter()
from {module} import {handler} as handle
imported = time.perf_counter()
answer = handle(spec["event"], Context())
done = time.perf_counter()
cpu = time.process_time() - cpu
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print("RESULT " + json.dumps({{
    "import": imported - started, "total": done - started, "cpu": cpu, "answer": answer,
    "calls": calls, "heavy": heavy, "modules": len(sys.modules),
}}))
"""


@frozen
class Sample:
    seconds: float
    cpu: float
    imported: float
    answer: dict[str, Any]
    calls: tuple[str, ...]
    heavy: tuple[str, ...]
    modules: int


@frozen
class Way:
    name: str
    module: str
    handler: str


def not_packaged(
    root: str = "overlord", extras: frozenset[str] = frozenset({"aws", "lambda"})
) -> list[str]:
    """Top-level modules of the installed distributions that ``root[extras]`` does not need,
    directly or not: what a deployment package of it would not hold."""
    needed: dict[str, frozenset[str]] = {}
    todo = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        key = canonicalize_name(name)
        if key in needed and wanted <= needed[key]:
            continue
        needed[key] = needed.get(key, frozenset()) | wanted
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in wanted or {""}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return sorted(
        module
        for module, owners in packages_distributions().items()
        if module.isidentifier() and not any(canonicalize_name(d) in needed for d in owners)
    )


def run_child(
    way: Way, event: dict[str, Any], env: dict[str, str], hidden: list[str], *, count: bool
) -> Sample:
    """One fresh interpreter importing ``way``'s handler and invoking it once with ``event``;
    the modules in ``hidden`` cannot be imported."""
    code = _CHILD.format(module=way.module, handler=way.handler, heavy=HEAVY)
    spec = {
        "path": [str(SOURCES), str(HERE)],
        "count": count,
        "event": event,
        "way": way.name,
        "hidden": hidden,
    }
    with tempfile.TemporaryDirectory() as cwd:  # no overlord.toml of the caller's
        done = subprocess.run(
            [sys.executable, "-I", "-c", code, json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=cwd,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{way.name} {way.handler} failed:\n{done.stderr.strip()[-3000:]}")
    found = json.loads(lines[-1].removeprefix("RESULT "))
    return Sample(
        float(found["total"]),
        float(found["cpu"]),
        float(found["import"]),
        found["answer"],
        tuple(found["calls"]),
        tuple(found["heavy"]),
        int(found["modules"]),
    )


def child_environment(settings: Settings, names: dict[str, Any]) -> dict[str, str]:
    """What the Lambda environments would have: AWS credentials and endpoint, the aws profile's
    ``OVERLORD_*`` settings for Overlord, and the resource names for the baseline."""
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in ("PATH", "HOME")}
    env["OVERLORD_PROFILE"] = "aws"
    env["OVERLORD_NAMESPACE"] = settings.namespace
    for name in ("batch_subnets", "batch_security_groups"):
        env[f"OVERLORD_{name.upper()}"] = ",".join(getattr(settings, name))
    for name in (
        "batch_service_role_arn",
        "batch_execution_role_arn",
        "batch_job_role_arn",
        "scheduler_target_arn",
        "scheduler_role_arn",
    ):
        env[f"OVERLORD_{name.upper()}"] = getattr(settings, name)
    database = tenant_database(Namespace(settings.namespace), TenantName(TENANT))
    env["BASELINE_TABLE"] = f"overlord.{database}"
    env["BASELINE_QUEUE"] = names["job_queue"]
    env["BASELINE_DEFINITION"] = names["job_definition"]
    return env


def rest_event(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": uuid.uuid4().hex,
            "resourcePath": "/{proxy+}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def state_change_event(job_id: str, backend_id: str, name: str) -> dict[str, Any]:
    """What EventBridge delivers when Batch moves the job to RUNNABLE."""
    now = datetime.now(UTC)
    return {
        "version": "0",
        "id": uuid.uuid4().hex,
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "account": "123456789012",
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:batch:us-east-1:123456789012:job/{backend_id}"],
        "detail": {
            "jobId": backend_id,
            "jobName": name,
            "status": "RUNNABLE",
            "createdAt": int((now - timedelta(seconds=5)).timestamp() * 1000),
            "attempts": [],
            "tags": {"overlord:tenant": TENANT, "overlord:job-id": job_id},
        },
    }


def tick_event(n: int) -> dict[str, Any]:
    """An EventBridge Scheduler delivery of the connector's schedule, due at its own time."""
    due = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=7 * n)
    return {
        "tenant": TENANT,
        "connector": CONNECTOR,
        "job_type": JOB_TYPE,
        "payload": {"stations": ["KSEA"]},
        "scheduled_time": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "schedule_arn": "arn:aws:scheduler:us-east-1:123456789012:schedule/"
        f"overlord-{TENANT}/weather-poll-observations-{uuid.uuid4().hex[:8]}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per handler and way")
    parser.add_argument("--quick", action="store_true", help="3 processes each, for a smoke run")
    parser.add_argument(
        "--all-installed",
        action="store_true",
        help="let the children import everything installed here, not only what a deployment "
        "package of overlord[aws,lambda] holds",
    )
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    hidden = [] if args.all_installed else not_packaged()
    server = start_moto({"batch": {"use_docker": False}})
    try:
        settings = aws_settings()
        container = Container.from_settings(settings)
        container.provisioning().apply(TENANT, CONNECTOR)
        jobs = container.jobs()
        names = dict(jobs.target(TENANT, CONNECTOR).names)
        env = child_environment(settings, names)
        shown = jobs.submit(TENANT, CONNECTOR, JOB_TYPE, {"stations": ["KSEA"]}).job
        serial = iter(range(1_000_000))

        def submitted() -> dict[str, Any]:
            """A job of its own for one state-change event, submitted through Overlord."""
            stations = [f"K{next(serial):03d}"]
            job = jobs.submit(TENANT, CONNECTOR, JOB_TYPE, {"stations": stations}).job
            assert job.backend_job_id is not None
            return state_change_event(job.id.value, job.backend_job_id, f"overlord-{job.id}")

        cases: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
            "api GET job": (
                "api_handler",
                lambda: rest_event("GET", f"/tenants/{TENANT}/jobs/{shown.id}"),
            ),
            "api POST job": (
                "api_handler",
                lambda: rest_event(
                    "POST",
                    f"/tenants/{TENANT}/connectors/{CONNECTOR}/jobs/{JOB_TYPE}",
                    {"stations": [f"P{next(serial):03d}"]},
                ),
            ),
            "job state change": ("job_state_change_handler", submitted),
            "schedule tick": ("schedule_handler", lambda: tick_event(next(serial))),
        }
        results: dict[str, dict[str, list[Sample]]] = {}
        first: dict[str, dict[str, Sample]] = {}
        for case, (handler, event) in cases.items():
            ways = (
                Way("baseline", "lambda_baseline", handler),
                Way("overlord", "overlord.entrypoints.lambdas", handler),
            )
            first[case] = {w.name: run_child(w, event(), env, hidden, count=True) for w in ways}
            results[case] = {w.name: [] for w in ways}
            for _ in range(runs):
                for way in ways:
                    sample = run_child(way, event(), env, hidden, count=False)
                    results[case][way.name].append(sample)
    finally:
        server.terminate()
        server.join(timeout=10)
    if hidden:
        print(
            f"as packaged: the children cannot import the {len(hidden)} installed top-level "
            "modules overlord[aws,lambda] does not require (--all-installed to allow them)"
        )
    else:
        print("all installed: the children may import everything in this environment")
    report(results, first, runs)


def report(
    results: dict[str, dict[str, list[Sample]]], first: dict[str, dict[str, Sample]], runs: int
) -> None:
    print(
        f"import + first invocation, median of {runs} fresh processes each "
        f"({sys.executable} -I), against moto over HTTP on 127.0.0.1"
    )
    print(
        f"{'handler':<18}{'baseline ms':>12}{'overlord ms':>12}{'ratio':>8}"
        f"{'baseline cpu':>14}{'overlord cpu':>14}{'ratio':>8}{'modules':>9}"
    )
    summary: dict[str, dict[str, float]] = {}
    failures: list[str] = []
    for case, ways in results.items():
        wall = {w: statistics.median(s.seconds for s in ways[w]) for w in ways}
        cpu = {w: statistics.median(s.cpu for s in ways[w]) for w in ways}
        ratio, cpu_ratio = wall["overlord"] / wall["baseline"], cpu["overlord"] / cpu["baseline"]
        print(
            f"{case:<18}{wall['baseline'] * 1e3:>12.1f}{wall['overlord'] * 1e3:>12.1f}"
            f"{ratio:>7.2f}x{cpu['baseline'] * 1e3:>14.1f}{cpu['overlord'] * 1e3:>14.1f}"
            f"{cpu_ratio:>7.2f}x{first[case]['overlord'].modules:>9}"
        )
        summary[case] = {
            "baseline_ms": round(wall["baseline"] * 1e3, 1),
            "overlord_ms": round(wall["overlord"] * 1e3, 1),
            "ratio": round(ratio, 3),
            "baseline_cpu_ms": round(cpu["baseline"] * 1e3, 1),
            "overlord_cpu_ms": round(cpu["overlord"] * 1e3, 1),
            "cpu_ratio": round(cpu_ratio, 3),
        }
        heavy = {name for s in [*ways["overlord"], first[case]["overlord"]] for name in s.heavy}
        if heavy:
            failures.append(f"{case}: Overlord's handler imported {', '.join(sorted(heavy))}")
    print("AWS calls of the first invocation (counted in the unmeasured run):")
    for case, by_way in first.items():
        for name, sample in by_way.items():
            mix = ", ".join(f"{op} {n}" for op, n in sorted(Counter(sample.calls).items()))
            print(f"  {case:<18}{name:<10}{mix}")
        if Counter(by_way["baseline"].calls) != Counter(by_way["overlord"].calls):
            print(f"  {case}: NOTE the two ways make different calls")
    print(json.dumps(summary))
    over = [case for case, figures in summary.items() if figures["ratio"] > TARGET]
    print(f"target: at most {TARGET:.2f}x for every handler; over it: {', '.join(over) or 'none'}")
    print(
        "ms: wall clock in the child from the import to the answer; cpu: the child's own CPU "
        "time over the same span (leaves out moto's time and waits for a busy core)"
    )
    if failures:
        raise SystemExit("FAIL: " + "; ".join(failures))
    print(f"OK: none of {', '.join(HEAVY)} in sys.modules after Overlord's first invocation")


if __name__ == "__main__":
    main()
