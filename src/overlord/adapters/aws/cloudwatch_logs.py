"""Reading one CloudWatch Logs stream from its start, page by page.

``GetLogEvents`` pages forward with ``nextForwardToken`` and signals the end by returning the
same token again (not by leaving it out), so the loop stops on a repeated token; a stream or
group that does not exist (yet) reads as empty, because Batch creates the stream only when the
container starts writing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from overlord.adapters.aws.clients import AwsClients, backend_error, error_code
from overlord.domain.job_events import LogLine

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import GetLogEventsRequestTypeDef

BATCH_LOG_GROUP = "/aws/batch/job"
# GetLogEvents' own maximum; smaller pages only in tests that exercise paging.
PAGE_SIZE = 10_000


class LogStreamReader:
    """Every event of a stream, oldest first.

    >>> reader = LogStreamReader()  # doctest: +SKIP
    >>> reader.read("/aws/batch/job", "weather-ingest/default/1f2e")  # doctest: +SKIP
    [LogLine(at=..., message='fetched 3 observations', stream='stdout')]
    """

    def __init__(
        self,
        client: CloudWatchLogsClient | None = None,
        *,
        page_size: int = PAGE_SIZE,
        clients: AwsClients | None = None,
    ) -> None:
        """Without ``client``, the CloudWatch Logs client of ``clients``, made on first use."""
        self._given_client = client
        self._clients = clients or AwsClients()
        self._page_size = page_size

    @cached_property
    def _client(self) -> CloudWatchLogsClient:
        if self._given_client is not None:
            return self._given_client
        made: CloudWatchLogsClient = self._clients.client("logs")
        return made

    def read(self, group: str, stream: str) -> list[LogLine]:
        lines: list[LogLine] = []
        token: str | None = None
        while True:
            page = self._page(group, stream, token)
            if page is None:
                return lines
            lines.extend(
                LogLine(
                    at=datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC),
                    message=event.get("message", ""),
                )
                for event in page.get("events", [])
                if "timestamp" in event
            )
            following = page.get("nextForwardToken")
            if not following or following == token:
                return lines
            token = following

    def _page(self, group: str, stream: str, token: str | None) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        request: GetLogEventsRequestTypeDef = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
            "limit": self._page_size,
        }
        if token:
            request["nextToken"] = token
        try:
            page: dict[str, Any] = dict(self._client.get_log_events(**request))
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise backend_error(exc, f"reading log stream {stream!r}") from exc
        return page
