"""Model strings parse into specs in one place, fail with messages that say how to fix them, and
roles resolve to strings in a documented order."""

from __future__ import annotations

import pytest

from agentgraphs.errors import ModelSpecError
from agentgraphs.models import DEFAULT_MODEL, ModelSpec, parse_model, resolve_model_string
from agentgraphs.models.spec import redact_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local:qwen2.5-0.5b", ModelSpec(provider="local", name="qwen2.5-0.5b")),
        ("local:/abs/path.gguf", ModelSpec(provider="local", name="/abs/path.gguf")),
        ("openai:gpt-4o-mini", ModelSpec(provider="openai", name="gpt-4o-mini")),
        (
            "vllm:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1",
            ModelSpec(provider="vllm", name="Qwen/Qwen2.5-7B-Instruct", base_url="http://127.0.0.1:8000/v1"),
        ),
        ("hf:smollm2-135m", ModelSpec(provider="hf", name="smollm2-135m")),
        # Spelling the provider in capitals or leaving spaces around the parts is forgiven.
        ("  LOCAL: smollm2-135m ", ModelSpec(provider="local", name="smollm2-135m")),
        # A trailing slash on the URL does not make a different endpoint.
        ("vllm:m@https://host.example/v1/", ModelSpec(provider="vllm", name="m", base_url="https://host.example/v1")),
    ],
)
def test_parse_model_every_provider_form(text: str, expected: ModelSpec) -> None:
    assert parse_model(text) == expected


@pytest.mark.parametrize(
    "text",
    ["local:qwen2.5-0.5b", "openai:gpt-4o-mini", "vllm:Qwen/Qwen2.5-7B-Instruct@http://127.0.0.1:8000/v1", "hf:smollm2-135m"],
)
def test_str_round_trips_canonical_strings(text: str) -> None:
    assert str(parse_model(text)) == text
    assert parse_model(str(parse_model(text))) == parse_model(text)


def test_vllm_model_id_may_contain_at_sign() -> None:
    spec = parse_model("vllm:org/model@v2@http://10.0.0.5:8000/v1")
    assert spec.name == "org/model@v2"
    assert spec.base_url == "http://10.0.0.5:8000/v1"


@pytest.mark.parametrize(
    ("text", "must_mention"),
    [
        ("qwen2.5-0.5b", ["no provider prefix", "'qwen2.5-0.5b'", "local:qwen2.5-0.5b"]),
        ("gpt4:turbo", ["unknown model provider", "'gpt4'", "local, openai, vllm, hf"]),
        ("vllm:Qwen/Qwen2.5-7B-Instruct", ["needs a server URL", "vllm:<model>@http://host:port/v1"]),
        ("vllm:Qwen/Qwen2.5-7B-Instruct@127.0.0.1:8000", ["needs a server URL"]),
        ("local:", ["names no model", "'local:'"]),
        ("openai:   ", ["names no model"]),
    ],
)
def test_bad_model_strings_say_what_is_wrong_and_how_to_fix_it(text: str, must_mention: list[str]) -> None:
    with pytest.raises(ModelSpecError) as info:
        parse_model(text)
    message = str(info.value)
    for fragment in must_mention:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    # ModelSpecError is a ValueError so plain `except ValueError` callers also catch it.
    assert isinstance(info.value, ValueError)


def test_non_string_model_is_rejected_clearly() -> None:
    with pytest.raises(ModelSpecError, match="no provider prefix"):
        parse_model(None)  # type: ignore[arg-type]


def test_str_of_spec_drops_credentials_from_url() -> None:
    spec = parse_model("vllm:my-model@https://alice:hunter2-password@gpu.example.org:8443/v1")
    # The spec keeps the credentials so the client can use them...
    assert spec.base_url == "https://alice:hunter2-password@gpu.example.org:8443/v1"
    # ...but its string form, which is what traces and error messages show, does not.
    shown = str(spec)
    assert shown == "vllm:my-model@https://gpu.example.org:8443/v1"
    assert "hunter2" not in shown and "alice" not in shown


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:pw@127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
        ("https://token@host.example/v1?x=1", "https://host.example/v1?x=1"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


# -- role resolution ------------------------------------------------------------------------------


def test_embedded_default_when_nothing_is_configured(no_model_env: None) -> None:
    assert resolve_model_string("judge") == DEFAULT_MODEL == "local:qwen2.5-0.5b"
    assert resolve_model_string() == "local:qwen2.5-0.5b"
    assert resolve_model_string("judge", {}) == "local:qwen2.5-0.5b"


def test_role_resolution_order(no_model_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """models[role] > AGENTGRAPHS_MODEL_<ROLE> > models["default"] > AGENTGRAPHS_MODEL > embedded."""
    models = {"judge": "openai:from-models-role", "default": "openai:from-models-default"}
    monkeypatch.setenv("AGENTGRAPHS_MODEL_JUDGE", "openai:from-env-role")
    monkeypatch.setenv("AGENTGRAPHS_MODEL", "openai:from-env-default")

    assert resolve_model_string("judge", models) == "openai:from-models-role"
    del models["judge"]
    assert resolve_model_string("judge", models) == "openai:from-env-role"
    monkeypatch.delenv("AGENTGRAPHS_MODEL_JUDGE")
    assert resolve_model_string("judge", models) == "openai:from-models-default"
    del models["default"]
    assert resolve_model_string("judge", models) == "openai:from-env-default"
    monkeypatch.delenv("AGENTGRAPHS_MODEL")
    assert resolve_model_string("judge", models) == "local:qwen2.5-0.5b"


def test_role_env_var_applies_only_to_its_role(no_model_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGRAPHS_MODEL_JUDGE", "openai:judge-only")
    monkeypatch.setenv("AGENTGRAPHS_MODEL", "openai:everyone-else")
    assert resolve_model_string("judge") == "openai:judge-only"
    assert resolve_model_string("policy") == "openai:everyone-else"
    # Another role's entry in models does not leak into this one.
    assert resolve_model_string("critic", {"policy": "openai:policy-only"}) == "openai:everyone-else"


def test_hyphenated_role_uses_underscored_env_var(no_model_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTGRAPHS_MODEL_META_JUDGE", "openai:meta")
    assert resolve_model_string("meta-judge") == "openai:meta"
    assert resolve_model_string("meta_judge") == "openai:meta"


def test_empty_values_fall_through(no_model_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty setting (``AGENTGRAPHS_MODEL_JUDGE=``) means "not set", not "the model ''"."""
    monkeypatch.setenv("AGENTGRAPHS_MODEL_JUDGE", "")
    assert resolve_model_string("judge", {"judge": "", "default": "openai:fallback"}) == "openai:fallback"
