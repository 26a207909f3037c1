"""Results as the JSON documents the routes answer with: stable keys, ISO times, plain values.

The provisioning report has the shape of ``overlord tenants init --output json``, so a script
can switch between the CLI and the API without changing how it reads the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from overlord.entrypoints.platform_json import report_json

if TYPE_CHECKING:
    from overlord.services.provisioning import ProvisioningReport


def connector_state_json(
    configuration: Mapping[str, Any], plan: ProvisioningReport
) -> dict[str, Any]:
    """The configuration document and, per resource, whether it is as the template says
    (``would-keep``) or what applying again would do."""
    return {
        **report_json(plan),
        "in_sync": not plan.changed,
        "configuration": dict(configuration),
    }
