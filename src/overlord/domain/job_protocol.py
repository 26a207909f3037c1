"""What a running job and Overlord tell each other, in words every backend can carry.

A job runs as a plain process — a local subprocess, an AWS Batch container — so the only ways
in are environment variables and the only ways out are its output lines and its exit code. The
job-side SDK (`overlord.job`) speaks this protocol for job authors; the runners (the local
supervisor, the Batch adapter) speak it for Overlord. Both import it from here because the
supervisor may import nothing but the standard library and this module, and adapters may not
import the SDK, which sits above them.
"""

from __future__ import annotations

# Set for every job by `JobService.submit_request`: exactly one of the two payload variables.
PAYLOAD = "OVERLORD_PAYLOAD"  # the payload's canonical JSON
PAYLOAD_REF = "OVERLORD_PAYLOAD_REF"  # "bucket/key" of the stored payload (over 24 KiB)
JOB_ID = "OVERLORD_JOB_ID"
TENANT = "OVERLORD_TENANT"
CONNECTOR = "OVERLORD_CONNECTOR"
JOB_TYPE = "OVERLORD_JOB_TYPE"

# Set by the runner: the attempt's number (1-based) where the runner numbers attempts itself;
# AWS Batch numbers them in its own variable.
ATTEMPT = "OVERLORD_JOB_ATTEMPT"
BATCH_ATTEMPT = "AWS_BATCH_JOB_ATTEMPT"

# Set by the runner so that the job builds the same object store the submitter wrote to.
PROFILE = "OVERLORD_PROFILE"
HOME = "OVERLORD_HOME"

# "Not done yet": the job ran fine but the work it checks on is unfinished (a feed the retailer
# is still processing), so the job ends without succeeding — its follow-up schedule stays on and
# tries again at its next firing — and the backend does not retry it at once. The job says so
# with one line beginning NOT_DONE_PREFIX, then exits with NOT_DONE_EXIT_CODE (EX_TEMPFAIL).
# Job authors never see the code: they call `overlord.job.JobContext.not_done_yet`.
NOT_DONE_EXIT_CODE = 75
NOT_DONE_PREFIX = "not done yet"


def one_line(text: str) -> str:
    """``text`` as a single log line: a line break would split one message into two entries."""
    return " ".join(text.splitlines()) if text else text


def not_done_line(reason: str) -> str:
    """The line a job prints when its work is not done yet.

    >>> not_done_line("feed still processing")
    'not done yet: feed still processing'
    """
    reason = one_line(reason).strip()
    return f"{NOT_DONE_PREFIX}: {reason}" if reason else NOT_DONE_PREFIX


def not_done_reason(lines: list[str]) -> str:
    """The status reason of an attempt that exited not done yet, from its output lines: the
    last line the SDK printed, or a reason that names the exit code when none is found.

    >>> not_done_reason(["checking", "not done yet: feed still processing"])
    'not done yet: feed still processing'
    >>> not_done_reason(["exit 75 by hand"])
    'not done yet (exit code 75)'
    """
    for line in reversed(lines):
        if line == NOT_DONE_PREFIX or line.startswith(f"{NOT_DONE_PREFIX}: "):
            return line
    return f"{NOT_DONE_PREFIX} (exit code {NOT_DONE_EXIT_CODE})"
