"""One place that builds boto3 clients, so every AWS adapter retries and resolves endpoints alike.

Clients honour the standard AWS configuration (``AWS_ENDPOINT_URL``, region, profile) and use
botocore's *standard* retry mode with 10 retries, which absorbs throttling bursts before an
adapter has to translate them into :class:`overlord.domain.errors.Throttled`. boto3 is imported
inside the functions: nothing happens at import. An AWS configuration that cannot make a client
(no Region, an unknown profile) is the operator's to fix: a `ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from overlord.domain.errors import BackendError, ConfigurationError, Throttled

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

MAX_RETRIES = 10


def retry_config(retries: int = MAX_RETRIES, **overrides: Any) -> Config:
    """The botocore ``Config`` shared by all adapters (standard mode, 10 retries after the first
    attempt; none for a call that is not safe to resend). botocore's ``max_attempts`` counts
    the retries only."""
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": retries}, **overrides)


@contextmanager
def _aws_configuration() -> Iterator[None]:
    from botocore.exceptions import NoRegionError, ProfileNotFound

    try:
        yield
    except NoRegionError:
        raise ConfigurationError(
            "AWS clients need a Region: set AWS_REGION (or a region in the AWS profile)",
            setting="AWS_REGION",
        ) from None
    except ProfileNotFound as exc:
        raise ConfigurationError(f"AWS_PROFILE: {exc}", setting="AWS_PROFILE") from None


def session(
    *, profile_name: str | None = None, region_name: str | None = None
) -> boto3.session.Session:
    """A fresh boto3 session (not the process-wide default, so threads never share one)."""
    import boto3

    with _aws_configuration():
        return boto3.session.Session(profile_name=profile_name, region_name=region_name)


def client(
    service_name: str,
    session: boto3.session.Session | None = None,
    *,
    region_name: str | None = None,
    retries: int = MAX_RETRIES,
) -> Any:
    """A boto3 client for ``service_name`` with the standard retry configuration.

    >>> s3 = client("s3")  # doctest: +SKIP
    """
    with _aws_configuration():
        if session is None:
            import boto3

            session = boto3.session.Session()
        # The stubs overload ``client`` per literal service name; callers annotate the result
        # with the service's own client type (``S3Client``, ``BatchClient``...), so build it
        # untyped here.
        build: Callable[..., Any] = session.client
        return build(service_name, region_name=region_name, config=retry_config(retries))


THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError``; None for any other exception."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return None


def backend_error(exc: BaseException, doing: str) -> BaseException:
    """The domain error for an SDK failure no adapter rule matched, or ``exc`` itself when it is
    not an SDK error (a programming error must stay visible as what it is)."""
    from botocore.exceptions import BotoCoreError, ClientError

    code = error_code(exc)
    if code in THROTTLING_CODES:
        return Throttled(f"{doing}: AWS kept throttling after {MAX_RETRIES} retries ({code})")
    if isinstance(exc, ClientError):
        return BackendError(f"{doing}: {code}: {exc.response.get('Error', {}).get('Message', '')}")
    if isinstance(exc, BotoCoreError):
        return BackendError(f"{doing}: {exc}")
    return exc
