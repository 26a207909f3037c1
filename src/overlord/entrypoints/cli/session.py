"""One invocation's state: the global options, and the container built from them on first use.

The root callback only records the options; settings are loaded and the container is built when
a command first asks for it, so ``--help`` and usage errors never read configuration or touch
a backend, and each invocation builds exactly one container.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from attrs import define, field

from overlord.entrypoints.cli.output import Output, OutputFormat
from overlord.settings import Profile

if TYPE_CHECKING:
    from overlord.container import Container
    from overlord.settings import Settings


@define
class Session:
    profile: Profile | None = None
    output_format: OutputFormat = OutputFormat.TABLE
    home: Path | None = None
    _settings: Settings | None = field(default=None, init=False)
    _configured_profile: Profile | None = field(default=None, init=False)
    _container: Container | None = field(default=None, init=False)
    _output: Output | None = field(default=None, init=False)

    @property
    def output(self) -> Output:
        if self._output is None:
            self._output = Output(self.output_format)
        return self._output

    def settings(self, *, default_profile: Profile | None = None) -> Settings:
        """Settings from the environment and ``overlord.toml``, with the options applied;
        ``default_profile`` wins over the environment but not over ``--profile``."""
        if self._settings is None:
            from overlord.settings import Settings

            changes: dict[str, Any] = {}
            profile = self.profile or default_profile
            if profile is not None:
                changes["profile"] = profile
            if self.home is not None:
                changes["home"] = self.home
            loaded = Settings.load()
            self._configured_profile = loaded.profile
            self._settings = loaded.replace(**changes)
        return self._settings

    def container(self, *, default_profile: Profile | None = None) -> Container:
        if self._container is None:
            from overlord.container import Container

            settings = self.settings(default_profile=default_profile)
            self._container = Container.from_settings(settings)
        return self._container

    def close(self) -> None:
        """Close what the invocation's container opened (database clients, pools, threads)."""
        if self._container is not None:
            self._container.shutdown_resources()

    def command(self, *words: str) -> str:
        """How to run ``overlord <words>`` against the same state as this invocation."""
        parts = ["overlord"]
        if self.home is not None:
            parts += ["--home", str(self.home)]
        if self.profile is not None:
            parts += ["--profile", self.profile.value]
        elif self._settings is not None and self._settings.profile != self._configured_profile:
            parts += ["--profile", self._settings.profile.value]
        return " ".join([*parts, *words])


def session(ctx: typer.Context) -> Session:
    found = ctx.find_object(Session)
    if found is None:  # a command invoked without the root callback (e.g. from a test)
        found = ctx.ensure_object(Session)
    return found


def help_without_command(ctx: typer.Context) -> None:
    """A group run without a command is a request for its help, not a mistake."""
    if ctx.invoked_subcommand is None:
        printed = ctx.get_help()  # Typer's Rich help prints itself and returns ""
        if printed:
            typer.echo(printed)
        raise typer.Exit(0)
