"""One place that builds boto3 clients, so every AWS adapter retries and resolves endpoints alike.

Clients honour the standard AWS configuration (``AWS_ENDPOINT_URL``, region, profile) and use
botocore's *standard* retry mode with 10 retries, which absorbs throttling bursts before an
adapter has to translate them into :class:`overlord.domain.errors.Throttled`. boto3 is imported
inside the functions: nothing happens at import. An AWS configuration that cannot make a client
(no Region, an unknown profile) is the operator's to fix: a `ConfigurationError`.

Making a client costs tens of milliseconds (its service model is read and parsed), which a
Lambda cold start pays in full. `AwsClients` therefore makes each client on first use, once per
(service, Region, retries), from one session made on first use too, and the container gives the
same `AwsClients` to every AWS adapter: a request builds the clients it calls and no other, and
the job runner and the compute provisioner share one Batch client.
"""

from __future__ import annotations

import threading
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


class AwsClients:
    """boto3 clients made on first use and kept: one per (service, Region, retries).

    All come from one session, made with the first client; a different configuration (the
    SubmitJob client that never retries, say) is a different client. Safe to share between
    threads: boto3 clients are, and a lock guards the session while it makes one. Nothing is
    read from the AWS configuration before the first client, so a missing Region is the
    `ConfigurationError` of the first call that needs AWS, not of building the adapters.

    >>> clients = AwsClients()
    >>> clients.client("dynamodb") is clients.client("dynamodb")  # doctest: +SKIP
    True
    """

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session
        self._clients: dict[tuple[str, str | None, int], Any] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> boto3.session.Session:
        """The session every client comes from (made now if no client was made yet)."""
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> boto3.session.Session:
        if self._session is None:
            self._session = session()
        return self._session

    def client(
        self, service_name: str, *, region_name: str | None = None, retries: int = MAX_RETRIES
    ) -> Any:
        """The client for ``service_name`` in this configuration, made the first time."""
        key = (service_name, region_name, retries)
        found = self._clients.get(key)
        if found is None:
            with self._lock:
                found = self._clients.get(key)
                if found is None:
                    found = client(
                        service_name,
                        self._session_locked(),
                        region_name=region_name,
                        retries=retries,
                    )
                    self._clients[key] = found
        return found

    def made(self) -> list[str]:
        """The services whose clients exist so far, in the order they were made."""
        return [service for service, _, _ in self._clients]


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
