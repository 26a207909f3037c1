"""Settings from ``OVERLORD_*`` and ``overlord.toml``: the environment wins, and a bad value is
refused as the operator's fault (`ConfigurationError`, never a caller's `InvalidInput`) with the
name of the variable or file key that holds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.errors import ConfigurationError, InvalidInput
from overlord.settings import DocumentStoreKind, Profile, Settings


def load(tmp_path: Path, environ: dict[str, str], toml: str | None = None) -> Settings:
    config = tmp_path / "overlord.toml"
    if toml is not None:
        config.write_text(toml, encoding="utf-8")
    return Settings.load(environ, config_file=config)


def test_the_environment_wins_over_the_file_and_lists_come_in_either_form(
    tmp_path: Path,
) -> None:
    settings = load(
        tmp_path,
        {"OVERLORD_PROFILE": "aws", "OVERLORD_BATCH_SUBNETS": " subnet-a, ,subnet-b "},
        'profile = "memory"\nmax_payload_bytes = 1024\nbatch_security_groups = ["sg-1"]\n',
    )

    assert settings.profile is Profile.AWS
    assert settings.documents is DocumentStoreKind.DYNAMODB
    assert settings.max_payload_bytes == 1024
    assert settings.batch_subnets == ("subnet-a", "subnet-b")
    assert settings.batch_security_groups == ("sg-1",)


@pytest.mark.parametrize(
    ("environ", "toml", "message", "setting"),
    [
        (
            {"OVERLORD_PROFILE": "prod"},
            None,
            "OVERLORD_PROFILE: must be one of local, memory, aws",
            "OVERLORD_PROFILE",
        ),
        (
            {"OVERLORD_MAX_PAYLOAD_BYTES": "-5"},
            None,
            "OVERLORD_MAX_PAYLOAD_BYTES: must be a whole",
            "OVERLORD_MAX_PAYLOAD_BYTES",
        ),
        (
            {"OVERLORD_MAX_PAYLOAD_BYTES": "1e6"},
            None,
            "OVERLORD_MAX_PAYLOAD_BYTES: must be a whole",
            "OVERLORD_MAX_PAYLOAD_BYTES",
        ),
        (
            {"OVERLORD_DOCUMENT_STORE": "redis"},
            None,
            "OVERLORD_DOCUMENT_STORE: must be one of",
            "OVERLORD_DOCUMENT_STORE",
        ),
        (
            {"OVERLORD_NAMESPACE": "../x"},
            None,
            "OVERLORD_NAMESPACE: invalid namespace name",
            "OVERLORD_NAMESPACE",
        ),
        (
            {},
            "max_payload_bytes = true\n",
            "overlord.toml: max_payload_bytes: must be a whole",
            "max_payload_bytes",
        ),
        (
            {},
            "batch_subnets = 5\n",
            "overlord.toml: batch_subnets: must be comma-separated",
            "batch_subnets",
        ),
        (
            {},
            'batch_subnets = ["a", 1]\n',
            "overlord.toml: batch_subnets: must be comma",
            "batch_subnets",
        ),
        ({}, "mongo_uri = 27017\n", "overlord.toml: mongo_uri: must be text", "mongo_uri"),
        ({}, "colour = 'blue'\n", "overlord.toml: unknown setting 'colour'", "colour"),
        ({}, "profile = \n", "overlord.toml: not valid TOML", "OVERLORD_CONFIG"),
    ],
)
def test_a_bad_value_is_the_operators_to_fix_and_named_where_it_came_from(
    tmp_path: Path, environ: dict[str, str], toml: str | None, message: str, setting: str
) -> None:
    pattern = message.replace("(", r"\(").replace("[", r"\[")
    with pytest.raises(ConfigurationError, match=pattern) as refused:
        load(tmp_path, environ, toml)

    assert refused.value.setting == setting
    assert refused.value.code == "configuration"
    assert not isinstance(refused.value, InvalidInput)


NAMES = st.sampled_from(
    [
        "profile",
        "document_store",
        "home",
        "namespace",
        "max_payload_bytes",
        "mongo_uri",
        "batch_subnets",
        "connectors_path",
        "tables_url",
        "colour",
    ]
)
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
TOML_VALUES = st.recursive(
    st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


def toml_line(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{name} = {str(value).lower()}"
    if isinstance(value, str):
        escaped = value.encode("unicode_escape").decode("ascii").replace('"', '\\"')
        return f'{name} = "{escaped}"'
    if isinstance(value, list):
        return f"{name} = [{', '.join(toml_line('x', v)[4:] for v in value)}]"
    return f"{name} = {value!r}"


@given(
    environ=st.dictionaries(NAMES.map(lambda n: f"OVERLORD_{n.upper()}"), TEXT, max_size=4),
    entries=st.dictionaries(NAMES, TOML_VALUES, max_size=4),
)
def test_any_values_load_or_are_refused_as_a_configuration_error(
    tmp_path_factory: pytest.TempPathFactory, environ: dict[str, str], entries: dict[str, Any]
) -> None:
    folder = tmp_path_factory.mktemp("settings")
    toml = "\n".join(toml_line(name, value) for name, value in entries.items()) + "\n"
    refused: ConfigurationError | None = None
    try:
        settings = load(folder, environ, toml)
    except ConfigurationError as exc:
        refused = exc
    if refused is not None:
        assert refused.message.startswith(("OVERLORD_", str(folder / "overlord.toml")))
        assert refused.setting in {*environ, *entries, "OVERLORD_CONFIG"}
        return
    assert settings.max_payload_bytes > 0
    assert isinstance(settings.profile, Profile)
    assert all(isinstance(s, str) and s for s in settings.batch_subnets)
