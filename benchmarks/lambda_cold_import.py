"""Cold import of the Lambda handlers against ``import boto3`` alone, in fresh processes.

Why: a Lambda's init phase pays for every module its handler imports, on every cold start. The
handlers need boto3, so boto3 alone is the floor and the ratio says what the platform adds on
top (dependency-injector, attrs, Powertools, Overlord's own modules). The handlers module
imports boto3 lazily, on the first invocation that builds the aws container, so the script
measures the module alone and the module together with boto3, which is what a cold start on
the aws profile pays before the container's clients exist. The API handler path must also
never drag in the heavy optional dependencies, which belong to batch jobs and the local CLI:
the script fails if pandas, pyarrow, selenium or sqlalchemy were imported.

Each sample is one new interpreter that times the import with ``time.perf_counter`` around the
``import`` statement (interpreter start-up is excluded and the same for all). The imports
alternate so that drift in machine load hits them alike; one unmeasured run of each first
writes the bytecode caches, as a deployment package built with compiled files would have them.

    python benchmarks/lambda_cold_import.py              # median of 21 processes each
    python benchmarks/lambda_cold_import.py --quick      # 5 each
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from attrs import frozen

MODULE = "overlord.entrypoints.lambdas"
BASELINE = "boto3"
IMPORTS = (BASELINE, MODULE, f"{MODULE}, {BASELINE}")
HEAVY = ("pandas", "pyarrow", "selenium", "sqlalchemy")

_CHILD = """
import json, sys, time
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
found = {{"boto3": "boto3" in sys.modules, "modules": len(sys.modules)}}
print(json.dumps({{"seconds": elapsed, "heavy": heavy, **found}}))
"""


@frozen
class Sample:
    seconds: float
    heavy: tuple[str, ...]
    boto3: bool
    modules: int


def sample(module: str) -> Sample:
    """One fresh interpreter importing ``module``; ``-I`` keeps the cwd and PYTHON* out."""
    code = _CHILD.format(module=module, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"python -c 'import {module}' failed:\n{done.stderr.strip()}")
    found = json.loads(done.stdout)
    return Sample(
        float(found["seconds"]), tuple(found["heavy"]), bool(found["boto3"]), int(found["modules"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="fresh processes per import")
    parser.add_argument("--quick", action="store_true", help="5 processes each, for a smoke run")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    first = {name: sample(name) for name in IMPORTS}  # writes the bytecode caches
    seconds: dict[str, list[float]] = {name: [] for name in IMPORTS}
    heavy: set[str] = set()
    for _ in range(runs):
        for name in IMPORTS:
            result = sample(name)
            seconds[name].append(result.seconds)
            heavy.update(result.heavy)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    print(f"median of {runs} fresh processes each ({sys.executable} -I -c 'import ...')")
    print(
        f"{'import':<40}{'median ms':>10}{'min ms':>8}{'max ms':>8}{'modules':>9}"
        f"{'boto3':>7}{'vs boto3':>10}"
    )
    for name, values in seconds.items():
        print(
            f"{name:<40}{medians[name] * 1e3:>10.1f}{min(values) * 1e3:>8.1f}"
            f"{max(values) * 1e3:>8.1f}{first[name].modules:>9}"
            f"{'yes' if first[name].boto3 else 'no':>7}{medians[name] / medians[BASELINE]:>9.2f}x"
        )
    print(json.dumps({name: round(value * 1e3, 1) for name, value in medians.items()}))
    if heavy:
        raise SystemExit(f"FAIL: importing {MODULE} loaded {', '.join(sorted(heavy))}")
    print(f"OK: none of {', '.join(HEAVY)} in sys.modules after importing {MODULE}")


if __name__ == "__main__":
    main()
