"""``overlord template``, ``deploy`` and ``destroy``: the whole platform as one stack on AWS.

The template is generated from the platform's namespace (``OVERLORD_NAMESPACE``) and document
store, so what ``template`` prints is exactly what ``deploy`` deploys. These commands work on
AWS whatever ``--profile`` says: they are how a platform gets there. The stack's functions run
with settings the stack wires (`DeployedStack.settings`); ``destroy`` reads them back to find
and delete the platform's tenants, whose resources provisioning made outside the stack.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from attrs import evolve

from overlord.domain.deployments import DOCUMENT_STORES, DeployRequest
from overlord.domain.errors import Conflict, InvalidInput
from overlord.domain.lambda_package import DEFAULT_RUNTIME, RUNTIMES, lambda_runtime
from overlord.entrypoints.cli.deploy_views import (
    StackProgress,
    deploy_json,
    destroy_json,
    settings_toml,
    show_deploy,
    show_destroy,
)
from overlord.entrypoints.cli.session import Session, session

if TYPE_CHECKING:
    from overlord.container import Container

StackOption = Annotated[
    str, typer.Option("--stack", help="CloudFormation stack name.", show_default=False)
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--document-store",
        help="dynamodb or mongo (default: OVERLORD_DOCUMENT_STORE when it is one, else dynamodb).",
        show_default=False,
    ),
]


def _document_store(current: Session, given: str | None) -> str:
    if given is not None:
        if given not in DOCUMENT_STORES:
            raise InvalidInput(f"--document-store must be dynamodb or mongo, not {given!r:.40}")
        return given
    configured = current.settings().document_store
    return configured.value if configured and configured.value in DOCUMENT_STORES else "dynamodb"


def template(
    ctx: typer.Context,
    document_store: StoreOption = None,
    output_file: Annotated[
        Path | None,
        typer.Option(
            "--output-file", help="Write the template here instead of stdout.", dir_okay=False
        ),
    ] = None,
) -> None:
    """Print the platform's CloudFormation template (JSON)."""
    from overlord.container import platform_template

    current = session(ctx)
    store = _document_store(current, document_store)
    built = platform_template(current.settings().namespace, store)
    document = json.dumps(built, indent=2) + "\n"
    if output_file is None:
        sys.stdout.write(document)
        return
    try:
        output_file.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {output_file}: {exc.strerror or exc}") from None
    out = current.output
    summary = {
        "file": str(output_file),
        "resources": len(built["Resources"]),
        "bytes": len(document),
    }
    if out.json:
        out.emit_json(summary)
    else:
        typer.echo(f"wrote {output_file}: {summary['resources']} resources")


def _parameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidInput(f"--parameter {text!r:.60}: expected KEY=VALUE")
    return key, value


def _lambda_package(current: Session, path: Path | None, runtime: str, extra: list[str]) -> bytes:
    """The Lambda deployment zip: the file given, else one built now as `overlord package`
    builds it (reproducibly, so the same sources give the same bytes and the same stack)."""
    if path is not None:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"--package {path}: {exc.strerror or exc}") from None
    typer.echo(f"building the Lambda package for {runtime}", err=True)
    with tempfile.TemporaryDirectory(prefix="overlord-deploy-") as work:
        built = (
            current.container()
            .packaging()
            .build(Path(work) / "overlord-lambda.zip", runtime, extra)
        )
        built.require_deployable()
        return Path(built.path).read_bytes()


def deploy(
    ctx: typer.Context,
    stack: StackOption,
    code_bucket: Annotated[
        str | None,
        typer.Option(
            "--code-bucket",
            help="Upload the code to this bucket (default: the stack's own).",
            show_default=False,
        ),
    ] = None,
    document_store: StoreOption = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            help="A template parameter, KEY=VALUE (repeatable).",
            show_default=False,
        ),
    ] = None,
    package: Annotated[
        Path | None,
        typer.Option(
            "--package",
            help="Deploy this Lambda zip (from `overlord package`) instead of building one.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    runtime: Annotated[
        str,
        typer.Option(help=f"Lambda runtime the package is for: {', '.join(sorted(RUNTIMES))}."),
    ] = DEFAULT_RUNTIME,
    extra: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            metavar="<requirement>",
            help="Another requirement for the package built (your batch tasks); repeatable.",
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config-file",
            help="Write the platform's settings here (an overlord.toml).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create or update the platform's stack through a change set, and wait for it."""
    current = session(ctx)
    parameters = dict(_parameter(p) for p in parameter or [])
    if "LambdaRuntime" in parameters:
        raise InvalidInput("give the runtime as --runtime, which the package is built for")
    parameters["LambdaRuntime"] = lambda_runtime(runtime).name
    # Bad input is refused before a package is built (which takes a while).
    request = DeployRequest(
        stack=stack,
        namespace=current.settings().namespace_name,
        document_store=_document_store(current, document_store),
        package=b"",
        code_bucket=code_bucket,
        parameters=parameters,
    )
    request = evolve(request, package=_lambda_package(current, package, runtime, extra or []))
    stacks = current.container().platform_stacks()
    out = current.output
    with StackProgress(out) as progress:
        report = stacks.deploy(request, progress)
    if config_file is not None:
        try:
            config_file.write_text(settings_toml(report.stack), encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {config_file}: {exc.strerror or exc}") from None
    if out.json:
        out.emit_json(deploy_json(report))
    else:
        show_deploy(out, report)


def destroy(
    ctx: typer.Context,
    stack: StackOption,
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            help="Also delete the platform's tenants and every object "
            "in its buckets, which would otherwise stop the deletion.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the platform's stack (and, with --purge, its tenants and their data)."""
    from overlord.domain.errors import NotFound

    current = session(ctx)
    stacks = current.container().platform_stacks()
    found = stacks.describe(stack)
    if found is None:
        raise NotFound(f"no stack named {stack}")
    tenants = _tenants_of(found.settings)
    if tenants and not purge:
        raise Conflict(
            f"the platform in stack {stack} still has tenants ({', '.join(tenants)}): "
            "delete them with `overlord tenants delete`, or pass --purge"
        )
    if not yes:
        if sys.stdin is not None and sys.stdin.isatty():
            what = " with its tenants and every object in its buckets" if purge else ""
            typer.confirm(f"Delete stack {stack}{what} for good?", abort=True, err=True)
        elif purge:
            raise InvalidInput("--purge deletes the platform's data; pass --yes to confirm")
    if tenants:
        service = _platform_container(found.settings).tenants()
        for tenant in tenants:
            service.delete(tenant, purge=True)
    out = current.output
    with StackProgress(out) as progress:
        report = stacks.destroy(stack, progress, purge=purge)
    if out.json:
        out.emit_json(destroy_json(report, tenants))
    else:
        show_destroy(out, report, tenants)


def _platform_container(settings: tuple[tuple[str, str], ...]) -> Container:
    from overlord.container import Container
    from overlord.settings import Settings

    # The deployed functions' settings, and nothing of this machine's overlord.toml: the
    # platform is the stack's, whatever the current directory configures.
    environ = {**dict(settings), "OVERLORD_CONFIG": ""}
    return Container.from_settings(Settings.load(environ))


def _tenants_of(settings: tuple[tuple[str, str], ...]) -> list[str]:
    """The platform's registered tenants; none when the stack has no functions (a stack whose
    first deploy stopped after its bucket)."""
    if not settings:
        return []
    return [summary.name for summary in _platform_container(settings).tenants().list()]
