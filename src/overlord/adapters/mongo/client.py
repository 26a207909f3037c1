"""Building the pymongo client, and the one place where pymongo's errors become Overlord's.

Services must never see a pymongo exception, and a user whose cluster is unreachable should read
one sentence that says so, not a topology description. Dropped connections (``AutoReconnect``)
are retried here, but only for calls that are safe to repeat: a repeated insert would report its
own first attempt as a duplicate, and a repeated compare-and-set would report it as a lost race.
Writes rely on the driver's retryable writes instead, which retry once with a server-side
transaction number, so a write is applied at most once.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from overlord.domain.errors import BackendError, ConfigurationError, Forbidden

if TYPE_CHECKING:
    from pymongo import MongoClient

T = TypeVar("T")

DEFAULT_SELECTION_TIMEOUT_MS = 10_000
APPNAME = "overlord"
_PAUSES = (0.1, 0.5)  # before the 2nd and 3rd attempt of a call that is safe to repeat
_DENIED = frozenset({13, 18, 8000})  # Unauthorized, AuthenticationFailed, Atlas's AtlasError
_ADVICE = "check OVERLORD_MONGO_URI, network access to the cluster and the server's status"


def _uri_options(uri: str) -> set[str]:
    """Names of the options a MongoDB URI sets (case-insensitive, as pymongo reads them)."""
    query = uri.partition("?")[2].replace(";", "&")
    return {name.lower() for name, _ in urllib.parse.parse_qsl(query, keep_blank_values=True)}


def connect(uri: str) -> MongoClient[dict[str, Any]]:
    """A client for ``uri`` with Overlord's defaults for what the URI leaves unsaid.

    Retryable writes are on and the application name is "overlord" unless the URI says
    otherwise (DocumentDB needs ``retryWrites=false``); server selection gives up after 10 s
    unless the URI sets ``serverSelectionTimeoutMS``. Datetimes come back timezone-aware.
    Building a client does not connect: an unreachable server is reported by the first call.

    >>> client = connect("mongodb://db.example.com/?serverSelectionTimeoutMS=500")
    >>> client.options.retry_writes, client.options.server_selection_timeout
    (True, 0.5)
    >>> client.close()
    """
    import pymongo
    from pymongo import errors

    options = _uri_options(uri)
    defaults: dict[str, Any] = {}
    if "retrywrites" not in options:
        defaults["retryWrites"] = True
    if "appname" not in options:
        defaults["appname"] = APPNAME
    if "serverselectiontimeoutms" not in options:
        defaults["serverSelectionTimeoutMS"] = DEFAULT_SELECTION_TIMEOUT_MS
    try:
        return pymongo.MongoClient(uri, tz_aware=True, **defaults)
    except (errors.InvalidURI, ValueError) as exc:  # ValueError: e.g. a port out of range
        raise ConfigurationError(
            f"OVERLORD_MONGO_URI is not a valid MongoDB URI: {exc}", setting="OVERLORD_MONGO_URI"
        ) from None
    except errors.ConfigurationError as exc:  # e.g. a mongodb+srv:// name that does not resolve
        raise BackendError(f"cannot configure the MongoDB client: {exc}; {_ADVICE}") from None


def _summary(exc: Exception) -> str:
    """pymongo's message without the topology description it appends."""
    return str(exc).split(", Timeout:")[0].split(", Topology Description:")[0]


def call(action: Callable[[], T], *, doing: str, repeatable: bool = True) -> T:
    """``action()`` with pymongo's errors translated; ``doing`` names it in messages.

    ``repeatable`` actions are tried up to three times when the connection drops.
    """
    from pymongo import errors

    attempts = 1 + (len(_PAUSES) if repeatable else 0)
    for attempt in range(attempts):
        try:
            return action()
        except errors.ServerSelectionTimeoutError as exc:
            raise BackendError(
                f"MongoDB is unreachable ({doing}): no server answered before the server "
                f"selection timeout [{_summary(exc)}]; {_ADVICE}"
            ) from exc
        except errors.AutoReconnect as exc:
            if attempt + 1 < attempts:
                time.sleep(_PAUSES[attempt])
                continue
            raise BackendError(
                f"lost the connection to MongoDB ({doing}) [{_summary(exc)}]; {_ADVICE}"
            ) from exc
        except errors.ConnectionFailure as exc:
            raise BackendError(
                f"cannot connect to MongoDB ({doing}) [{_summary(exc)}]; {_ADVICE}"
            ) from exc
        except errors.OperationFailure as exc:
            if exc.code in _DENIED:
                raise Forbidden(f"MongoDB refused {doing}: {_summary(exc)}") from exc
            raise BackendError(f"MongoDB failed {doing}: {_summary(exc)}") from exc
        except errors.PyMongoError as exc:
            raise BackendError(f"MongoDB failed {doing}: {_summary(exc)}") from exc
    raise AssertionError("unreachable: the last attempt returns or raises")
