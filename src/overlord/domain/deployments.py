"""A deployment of the platform itself: what a deploy asks for, what it would change, what it
left standing.

Deploying is one stack per platform (`overlord deploy`); these values are what the stack port
takes and gives, so the command that shows a change set or a stack's outputs needs no
CloudFormation type.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping

from attrs import field, frozen

from overlord.domain.errors import InvalidInput
from overlord.domain.names import Namespace

# CloudFormation's own rule for stack names.
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_PARAMETER_KEY = re.compile(r"^[A-Za-z0-9]{1,255}$")
DOCUMENT_STORES = ("dynamodb", "mongo")


def _stack_name(_: object, __: object, value: str) -> None:
    if not isinstance(value, str) or not _STACK_NAME.fullmatch(value):
        shown = value if isinstance(value, str) else type(value).__name__
        raise InvalidInput(
            f"invalid stack name {shown[:60]!r}: use up to 128 letters, digits and hyphens, "
            "starting with a letter"
        )


def _parameters(
    value: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    pairs = dict(value.items() if isinstance(value, Mapping) else value)
    for key in pairs:
        if not _PARAMETER_KEY.fullmatch(key):
            raise InvalidInput(f"invalid parameter name {key[:60]!r}: letters and digits only")
    return tuple(sorted(pairs.items()))


def _store(_: object, __: object, value: str) -> None:
    if value not in DOCUMENT_STORES:
        raise InvalidInput(
            f"document store {value!r}: a deployed platform keeps its documents in "
            f"{' or '.join(DOCUMENT_STORES)}"
        )


@frozen(kw_only=True)
class DeployRequest:
    """Deploy ``package`` (the Lambda zip) as stack ``stack``. Without ``code_bucket`` the
    stack keeps its code in its own bucket; ``parameters`` override the template's defaults
    and, on an existing stack, the values it was last deployed with."""

    stack: str = field(validator=_stack_name)
    namespace: Namespace
    document_store: str = field(validator=_store)
    package: bytes = field(repr=lambda data: f"<{len(data)} bytes>")
    code_bucket: str | None = None
    parameters: tuple[tuple[str, str], ...] = field(default=(), converter=_parameters)


class ChangeAction(enum.StrEnum):
    ADD = "Add"
    MODIFY = "Modify"
    REMOVE = "Remove"
    IMPORT = "Import"
    DYNAMIC = "Dynamic"


@frozen(kw_only=True)
class StackChange:
    action: str
    logical_id: str
    resource_type: str
    replacement: str | None = None


@frozen(kw_only=True)
class StackEvent:
    """One line of a stack's progress: a resource (or the stack) reaching a status."""

    logical_id: str
    resource_type: str
    status: str
    reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")


@frozen(kw_only=True)
class DeployedStack:
    """A stack as it stands: its status, outputs and parameters, and the ``OVERLORD_*``
    settings its functions run with (which are what a CLI needs to work on the platform)."""

    name: str
    status: str
    namespace: str | None = None
    document_store: str | None = None
    outputs: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    settings: tuple[tuple[str, str], ...] = ()

    def output(self, key: str) -> str | None:
        return dict(self.outputs).get(key)


@frozen(kw_only=True)
class DeployReport:
    """What a deploy did: whether it changed the stack (not when the stack already matched),
    the changes its change sets listed, where it put the code, and the stack it left."""

    stack: DeployedStack
    changes: tuple[StackChange, ...]
    applied: bool
    created: bool
    code_bucket: str
    code_key: str
    package_bytes: int

    @property
    def changed(self) -> bool:
        return self.applied


@frozen(kw_only=True)
class DestroyReport:
    stack: str
    emptied: tuple[tuple[str, int], ...] = ()  # (bucket, objects deleted)
    state_machines: tuple[str, ...] = ()  # the batch pipelines deleted with a purge
    deleted: bool = True
