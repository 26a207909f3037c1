"""Whatever arguments arrive, the CLI answers 0 or 2, one line when it refuses, and a refusal
changes nothing on disk.

Generated names and option values are thrown at the in-process CLI on the local profile, each
example with a fresh home. Exit 1 would mean a bug (an input the edge failed to classify).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import run_in_process, tree

KNOWN = ["acme", "weather", "marketplace", "../x", "$where", "ACME", "\u0430cme", "--plan", "-"]


def _safe(token: str) -> bool:
    """Keep generated tokens from choosing another home or the aws profile (which would reach
    for real AWS credentials): those are not malformed input, just other settings."""
    return "aws" not in token.lower() and not token.startswith("--h")


names = st.one_of(st.text(max_size=40), st.sampled_from(KNOWN)).filter(_safe)
values = st.one_of(st.text(max_size=12), st.sampled_from(["json", "table", "memory", "local"]))
# Instants, some not: what --start and --end are given.
instants = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01", "2026-13-01", "1e9", "now"]),
)
options = st.lists(
    st.tuples(st.sampled_from(["--output", "-o", "--profile"]), values.filter(_safe)),
    max_size=2,
)
commands = st.one_of(
    st.builds(
        lambda tenant, connector, plan: ("tenants", "init", tenant, connector, *plan),
        names,
        names,
        st.sampled_from([(), ("--plan",)]),
    ),
    st.tuples(st.just("tenants"), st.just("show"), names),
    st.tuples(st.just("tenants"), st.just("delete"), names, st.just("--yes")),
    st.tuples(st.just("connectors"), st.just("show"), names),
    st.tuples(st.just("connectors"), st.just("add"), names),
    st.tuples(st.sampled_from(["tenants", "connectors"]), names),
    st.builds(
        lambda command, tenant, connector, dataset, extra: (
            "datasets",
            command,
            tenant,
            connector,
            dataset,
            *extra,
        ),
        st.sampled_from(
            ["run", "gather", "process", "show", "status", "list", "partitions", "partition"]
        ),
        names,
        st.one_of(names, st.sampled_from(["bank-reports", "weather"])),
        st.one_of(names, st.sampled_from(["call-reports", "observations"])),
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["--param", "-p", "--source-url", "--archive", "--folder", "--start", "--end"]
                ),
                st.one_of(names, instants),
            ),
            max_size=3,
        ).map(lambda pairs: tuple(token for pair in pairs for token in pair)),
    ),
    st.lists(names, max_size=4).map(tuple),
)


@settings(
    max_examples=60,
    deadline=None,
    # The function-scoped fixtures only hide OVERLORD_* variables and set the working directory:
    # the same for every example, so sharing them across examples is what we want.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(options=options, command=commands)
def test_malformed_arguments_exit_0_or_2_with_one_line_and_change_nothing_on_refusal(
    options: list[tuple[str, str]], command: tuple[str, ...]
) -> None:
    argv = [token for pair in options for token in pair] + list(command)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"

        done = run_in_process("--home", str(home), *argv)

        assert done.exit_code in (0, 2), (argv, done.stderr)
        assert "Traceback" not in done.stderr
        if done.exit_code == 2:
            assert done.stderr.endswith("\n")
            assert len(done.error_lines) == 1, (argv, done.stderr)
            assert done.error_lines[0].startswith("error: ")
            assert tree(home) == {}, argv
        else:
            assert done.stderr == "", argv
