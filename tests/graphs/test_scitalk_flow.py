"""The SciTalk loop's wiring, on a scripted model: fan-outs, feedback rounds, prompt rewrites,
artefacts per round, the report and persona plug-ins. Real PDF parsing, narration and rendering;
only the model answers are scripted (valid instances of each agent's schema; the scene planner draws
the method as a diagram in the first shot that may have one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import agentgraphs
from agentgraphs.agents.scitalk.prompts import GENERATORS
from agentgraphs.agents.scitalk.reflector import CHECK_OWNERS
from agentgraphs.errors import GraphInputError
from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour
from agentgraphs.testing.schema_reply import schema_reply
from agentgraphs.tools.video import probe_video

STEPS = ["Parse the paper", "Plan the scenes", "Narrate and render"]


def _reply_with_a_diagram(body: dict) -> str:
    """``schema_reply``, except that the first shot offered a diagram takes it."""
    answer = schema_reply(body)
    response = body.get("response_format", {}).get("json_schema", {})
    if response.get("name") != "ShotPlan":
        return answer
    shots, schema = json.loads(answer), response["schema"]
    for name, shot in shots.items():
        definition = schema["$defs"][schema["properties"][name]["$ref"].rsplit("/", 1)[-1]]
        if "diagram" in definition["properties"]["visual"].get("enum", []):
            shot.update(visual="diagram", steps=STEPS)
            break
    return json.dumps(shots)


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory: pytest.TempPathFactory, sample_paper: Path) -> tuple[Path, list[dict]]:
    with OpenAITestServer(ServerBehaviour(reply=_reply_with_a_diagram)) as server:
        result = agentgraphs.run(
            "scitalk",
            {"paper": str(sample_paper), "iterations": 2, "size": "preview",
             "personas": ["student", "agentgraphs_demo_plugin/skeptic"]},
            models={"default": f"vllm:test-model@{server.base_url}"},
            run_dir=tmp_path_factory.mktemp("scitalk") / "run",
        )
        requests = list(server.requests)
    assert result.status == "done"
    return result.run_dir, requests


def test_two_rounds_keep_their_own_video_prompts_scores_and_checks(scripted_run: tuple[Path, list[dict]]) -> None:
    run_dir, _ = scripted_run
    for round_dir in (run_dir / "round-1", run_dir / "round-2"):
        for name in ("video.mp4", "subtitles.srt", "script.md", "scene_plan.json", "checks.json", "critiques.json"):
            assert (round_dir / name).is_file(), f"{round_dir.name}/{name} missing"
        assert len(list((round_dir / "prompts").glob("*.md"))) == 5
    for name in ("video.mp4", "subtitles.srt", "script.md", "scene_plan.json", "report.md", "scores.png"):
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.rglob("*.tmp*")), "no temporary files may be left behind"


def _reflected(run_dir: Path) -> set[str]:
    """The generators that round 1's feedback concerns: the critics' target and the check owners."""
    flags = json.loads((run_dir / "round-1" / "checks.json").read_text())["flags"]
    return {"flashtalk_writer"} | {CHECK_OWNERS[flag["kind"]] for flag in flags}


def test_feedback_rewrites_the_prompts_of_the_agents_it_names(scripted_run: tuple[Path, list[dict]]) -> None:
    run_dir, _ = scripted_run
    reflected = _reflected(run_dir)
    for agent in GENERATORS:
        prompt = (run_dir / "round-2" / "prompts" / f"{agent}.md").read_text()
        version = 2 if agent in reflected else 1
        assert prompt.startswith(f"# {agent}, version {version}"), (agent, prompt[:60])
        assert ("Scripted guidance" in prompt) == (agent in reflected)


def test_a_check_flag_reaches_the_agent_that_can_fix_it(scripted_run: tuple[Path, list[dict]]) -> None:
    run_dir, requests = scripted_run
    flags = json.loads((run_dir / "round-1" / "checks.json").read_text())["flags"]
    assert flags, "the scripted on-screen text is too long to read in time; the checks must say so"
    rewrites = [r["messages"][-1]["content"] for r in requests
                if r.get("response_format", {}).get("json_schema", {}).get("name") == "PromptRewrite"]
    owner_request = next(text for text in rewrites if "Agent: text_editor" in text)
    assert f"automatic check, scene {flags[0]['scene_id']}: {flags[0]['kind']}" in owner_request


def test_the_rewritten_prompt_reaches_the_writer_in_round_two(scripted_run: tuple[Path, list[dict]]) -> None:
    _, requests = scripted_run
    writer_systems = [r["messages"][1]["content"] for r in requests
                      if r.get("response_format", {}).get("json_schema", {}).get("name") == "ScriptPartDraft"]
    assert len(writer_systems) == 8  # four parts a round, each its own call
    assert all("(version 1)" in text for text in writer_systems[:4])
    assert all("(version 2)" in text for text in writer_systems[4:])


def test_scenes_and_editors_fan_out_per_part_and_personas_per_round(scripted_run: tuple[Path, list[dict]]) -> None:
    _, requests = scripted_run
    names = [r.get("response_format", {}).get("json_schema", {}).get("name") for r in requests]
    per_round = {"ScriptPartDraft": 4, "ShotPlan": 4, "OnScreenTextPlan": 4, "LayoutPlan": 4, "EffectPlan": 4, "Critique": 2}
    for name, count in per_round.items():
        assert names.count(name) == 2 * count, (name, names.count(name))
    # one reflection per generator with feedback, after round 1 only (none after the last round)
    assert names.count("PromptRewrite") == len(_reflected(scripted_run[0]))
    assert names.count("Evaluation") == 1


def test_report_has_scores_per_round_and_the_prompt_change(scripted_run: tuple[Path, list[dict]]) -> None:
    run_dir, _ = scripted_run
    report = (run_dir / "report.md").read_text()
    assert "| 1 | 3.00 |" in report and "| 2 | 3.00 |" in report
    assert "round 2: flashtalk_writer v2: Scripted change" in report
    assert "![scores per round](scores.png)" in report
    plan = json.loads((run_dir / "scene_plan.json").read_text())
    assert plan["width"] == 360 and plan["height"] == 640
    assert any(scene["figure"] for scene in plan["scenes"]), "the paper's own figures are shown"


def test_unknown_persona_and_size_are_refused_before_the_run(sample_paper: Path, tmp_path: Path) -> None:
    with pytest.raises(GraphInputError, match="no SciTalk persona named 'critic-nobody'"):
        agentgraphs.run("scitalk", {"paper": str(sample_paper), "personas": ["critic-nobody"]}, run_dir=tmp_path / "a")
    with pytest.raises(GraphInputError, match="unknown video size"):
        agentgraphs.run("scitalk", {"paper": str(sample_paper), "size": "huge"}, run_dir=tmp_path / "b")


def test_a_plugin_persona_critiques_like_a_built_in_one(scripted_run: tuple[Path, list[dict]]) -> None:
    run_dir, requests = scripted_run
    critiques = json.loads((run_dir / "round-1" / "critiques.json").read_text())["critiques"]
    assert sorted(critiques) == ["skeptic", "student"]
    systems = [r["messages"][1]["content"] for r in requests
               if r.get("response_format", {}).get("json_schema", {}).get("name") == "Critique"]
    assert any("doubts every claim" in text for text in systems)


def test_tied_scores_keep_the_round_with_fewer_flags_then_the_later_one(scripted_run: tuple[Path, list[dict]]) -> None:
    run_dir, _ = scripted_run
    flags = [len(json.loads((run_dir / f"round-{n}" / "checks.json").read_text())["flags"]) for n in (1, 2)]
    kept = 1 if flags[0] < flags[1] else 2  # the scripted critics tie every round
    assert (run_dir / "video.mp4").read_bytes() == (run_dir / f"round-{kept}" / "video.mp4").read_bytes()
    assert f"The video is round {kept}'s" in (run_dir / "report.md").read_text()


def test_the_planner_can_draw_the_method_as_a_diagram(scripted_run: tuple[Path, list[dict]]) -> None:
    run_dir, _ = scripted_run
    for round_dir in (run_dir / "round-1", run_dir / "round-2"):
        plan = json.loads((round_dir / "scene_plan.json").read_text())
        diagrams = [scene for scene in plan["scenes"] if scene["diagram"]]
        assert [(scene["part"], scene["diagram"]["steps"]) for scene in diagrams] == [("context", STEPS)]
        assert diagrams[0]["figure"] is None and diagrams[0]["effect"] in ("none", "fade", "reveal")
        frames = json.loads((round_dir / "frames.json").read_text())
        assert any(f"Scene {diagrams[0]['id']} " in line and "a flow diagram of 3 boxes" in line for line in frames)
        # The step labels are on-screen words: they count towards the words-per-second check.
        checks = json.loads((round_dir / "checks.json").read_text())
        words = sum(len(t["text"].split()) for t in diagrams[0]["texts"]) + sum(len(s.split()) for s in STEPS)
        seconds = probe_video(round_dir / "scenes" / f"{diagrams[0]['id']}.mp4").duration_s
        assert checks["words_per_second"][diagrams[0]["id"]] == pytest.approx(words / seconds, abs=0.05)
