"""scitalk: a research-paper PDF becomes a narrated short video, refined by viewer-persona feedback.

parse → script → scene plan (one ``Send`` per script part) → text, layout and effects (one
``Send`` per part and agent) → compose → narration → render → checks → critics (one ``Send`` per
persona) → judge → (reflect, one ``Send`` per generator with feedback → next round → script) or →
evaluate → report. The feedback loop is an edge, so Studio shows it and a killed run resumes
between any two nodes. Every round keeps its video, prompts, scores and checks in ``round-N/``;
the best round's files are copied to the top of the run directory.
"""

from __future__ import annotations

import json
import operator
import shutil
from pathlib import Path
from statistics import mean
from typing import Annotated, Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send
from pydantic import BaseModel, Field, FilePath, field_validator
from typing_extensions import TypedDict

from agentgraphs.agents.scitalk import critics, effects_assistant, evaluator, flashtalk_writer, layout_allocator
from agentgraphs.agents.scitalk import reflector, scene_planner, text_editor
from agentgraphs.agents.scitalk.flashtalk_writer import PARTS, FlashTalk
from agentgraphs.agents.scitalk.prompts import GENERATORS, PromptVersion
from agentgraphs.atomic import atomic_path
from agentgraphs.errors import RegistryError
from agentgraphs.graph_spec import Artefacts, merge_dicts
from agentgraphs.registry import register
from agentgraphs.runtime import RunContext, context_of
from agentgraphs.tools.render_plan import RenderPlan, frame_size

__all__ = ["SciTalkInputs", "SciTalkState", "build", "graph"]

DEFAULT_PERSONAS = ["student", "domain-expert", "general-viewer"]
GUIDANCE = {
    "flashtalk_writer": flashtalk_writer.GUIDANCE,
    "scene_planner": scene_planner.GUIDANCE,
    "text_editor": text_editor.GUIDANCE,
    "layout_allocator": layout_allocator.GUIDANCE,
    "effects_assistant": effects_assistant.GUIDANCE,
}
ROLES = {
    "flashtalk_writer": flashtalk_writer.ROLE,
    "scene_planner": scene_planner.ROLE,
    "text_editor": text_editor.ROLE,
    "layout_allocator": layout_allocator.ROLE,
    "effects_assistant": effects_assistant.ROLE,
}
EDITORS = ("text_editor", "layout_allocator", "effects_assistant")


class SciTalkInputs(BaseModel):
    """Inputs of the scitalk graph."""

    paper: FilePath = Field(description="Path of the paper's PDF.")
    iterations: int = Field(default=2, ge=1, le=10, description="Most feedback rounds; stops early when scores stop improving.")
    size: str = Field(default="vertical", description="vertical (1080x1920), landscape (1920x1080), preview (360x640) or WxH.")
    personas: list[str] = Field(default_factory=lambda: list(DEFAULT_PERSONAS), min_length=1,
                                description="Viewer personas that critique each round (registered names).")
    voice: Literal["espeak", "piper"] = Field(default="espeak", description="Narration voice: espeak (espeak-ng) or piper.")
    avatar: FilePath | None = Field(default=None, description="Optional presenter image shown on every sub-scene.")
    max_pages: int = Field(default=60, ge=1, le=500, description="Longer papers are cut to their first pages (stated in the report).")
    critic_images: bool = Field(default=False, description="Send sampled frames as images to critics (only for models that take images).")
    workers: int = Field(default=2, ge=1, le=32, description="Processes rendering scenes in parallel.")
    title_animation: bool = Field(default=False, description="Open with an animated title card rendered by manim (slower).")
    diagram_animation: bool = Field(default=False, description="Animate method diagrams with manim (boxes grow in, "
                                                               "arrows draw; slower) instead of Pillow's reveal.")

    @field_validator("size")
    @classmethod
    def _known_size(cls, value: str) -> str:
        frame_size(value)
        return value

    @field_validator("personas")
    @classmethod
    def _known_personas(cls, value: list[str]) -> list[str]:
        for name in value:
            try:
                critics.resolve_persona(name)
            except RegistryError as exc:
                raise ValueError(str(exc)) from None
        return value


class SciTalkState(TypedDict, total=False):
    # inputs
    paper: str
    iterations: int
    size: str
    personas: list[str]
    voice: str
    avatar: str | None
    max_pages: int
    critic_images: bool
    workers: int
    title_animation: bool
    diagram_animation: bool
    # the parsed paper (the full parse is on disk; state keeps what prompts need)
    paper_json: str
    title: str
    outline: str
    source_ids: list[str]
    figures: list[dict[str, str]]
    notes: list[str]
    # the loop
    iteration: int
    prompts: Annotated[dict[str, dict[str, Any]], merge_dicts]
    prompt_history: Annotated[list[dict[str, Any]], operator.add]
    script: dict[str, Any]
    scenes: Annotated[dict[str, list[dict[str, Any]]], merge_dicts]
    edits: Annotated[dict[str, list[dict[str, Any]]], merge_dicts]
    plan_path: str
    narration: dict[str, str]
    render: dict[str, Any]
    checks: dict[str, Any]
    frames: list[str]
    critiques: Annotated[dict[str, dict[str, Any]], merge_dicts]
    rounds: Annotated[list[dict[str, Any]], operator.add]
    evaluation: dict[str, Any]
    artefacts: Artefacts


def _round_dir(runtime: Runtime[RunContext], iteration: int) -> Path:
    path = context_of(runtime).directory() / f"round-{iteration}"
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- parse -------------------------------------------------------------------------------------

def parse(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: the paper's structure and figures (PyMuPDF), and the round-1 prompts."""
    from agentgraphs.tools.paper import parse_paper

    directory = context_of(runtime).directory() / "paper"
    paper = parse_paper(state["paper"], directory, max_pages=state.get("max_pages", 60))
    paper_json = context_of(runtime).write_artefact("paper/paper.json", paper.model_dump(mode="json"))
    prompts = {name: PromptVersion(agent=name, version=1, guidance=GUIDANCE[name]).model_dump() for name in GENERATORS}
    return {
        "paper_json": paper_json, "title": paper.title, "outline": paper.outline(3500),
        "source_ids": ["abstract", *[s.id for s in paper.sections], *[f.id for f in paper.figures]],
        "figures": [{"id": f.id, "caption": f.caption, "path": f.path} for f in paper.figures],
        "notes": list(paper.notes), "iteration": 1, "prompts": prompts,
        "prompt_history": [{"round": 1, **p} for p in prompts.values()],
    }


# -- fan-outs ----------------------------------------------------------------------------------

def _part_payload(state: SciTalkState) -> dict[str, Any]:
    return {"title": state["title"], "iteration": state["iteration"], "prompts": state["prompts"],
            "figures": [{"id": f["id"], "caption": f["caption"]} for f in state.get("figures", [])]}


def to_scene_planners(state: SciTalkState) -> list[Send]:
    """One scene planner per script part."""
    script = FlashTalk.model_validate(state["script"])
    return [Send("plan_scenes", {**_part_payload(state), "part": name, "narration": part.narration})
            for name, part in script.parts()]


def _subscenes(state: SciTalkState, part: str) -> list[dict[str, Any]]:
    return state["scenes"][f"{state['iteration']}/{part}"]


def to_editors(state: SciTalkState) -> list[Send]:
    """Text editor, layout allocator and effects assistant for every part, all at once."""
    return [Send(agent, {**_part_payload(state), "part": part, "subscenes": _subscenes(state, part)})
            for part in PARTS for agent in EDITORS]


def gather(state: SciTalkState) -> dict[str, Any]:
    """Join point after a fan-out (the next edge reads what the branches wrote)."""
    return {}


# -- compose, narrate, render, check -----------------------------------------------------------

def compose(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: the render plan from every agent's choices; ``scene_plan.json`` and ``script.md``."""
    from agentgraphs.tools.scene_composer import compose_plan

    round_key = state["iteration"]
    scenes = [s for part in PARTS for s in state["scenes"][f"{round_key}/{part}"]]
    edits = {agent: [e for part in PARTS for e in state["edits"][f"{round_key}/{part}/{agent}"]] for agent in EDITORS}
    plan = compose_plan(
        title=state["title"], scenes=scenes, texts=edits["text_editor"], layouts=edits["layout_allocator"],
        effects=edits["effects_assistant"], figures={f["id"]: f["path"] for f in state.get("figures", [])},
        size=state.get("size", "vertical"), avatar=state.get("avatar"),
        captions={f["id"]: f["caption"] for f in state.get("figures", [])},
        title_animation=state.get("title_animation", False), diagram_animation=state.get("diagram_animation", False),
    )
    context = context_of(runtime)
    plan_path = context.write_artefact(f"round-{round_key}/scene_plan.json", plan.model_dump(mode="json"))
    context.write_artefact(f"round-{round_key}/script.md", FlashTalk.model_validate(state["script"]).markdown(state["title"]))
    for name, prompt in state["prompts"].items():
        version = PromptVersion.model_validate(prompt)
        context.write_artefact(f"round-{round_key}/prompts/{name}.md",
                               f"# {name}, version {version.version}\n\n{ROLES[name]}\n\n## Guidance\n\n{version.guidance}\n")
    return {"plan_path": plan_path}


def narrate(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: one narration audio file per sub-scene (audio first: it sets the timing)."""
    from agentgraphs.tools.narration import synthesize

    plan = RenderPlan.model_validate_json(Path(state["plan_path"]).read_text(encoding="utf-8"))
    audio_dir = _round_dir(runtime, state["iteration"]) / "audio"
    narration = {}
    for scene in plan.scenes:
        path = audio_dir / f"{scene.id}.wav"
        synthesize(scene.narration, path, voice=state.get("voice", "espeak"))
        narration[scene.id] = str(path)
    return {"narration": narration}


def render(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: every sub-scene rendered in parallel processes, then one H.264 + AAC video."""
    from agentgraphs.tools.video import render_video

    plan = RenderPlan.model_validate_json(Path(state["plan_path"]).read_text(encoding="utf-8"))
    result = render_video(plan, {k: Path(v) for k, v in state["narration"].items()},
                          _round_dir(runtime, state["iteration"]), workers=state.get("workers", 2))
    return {"render": result.model_dump(mode="json")}


def check(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: the video checks and frame descriptions the critics and the report use."""
    from agentgraphs.tools.video import RenderResult
    from agentgraphs.tools.video_checks import check_video, describe_frames

    plan = RenderPlan.model_validate_json(Path(state["plan_path"]).read_text(encoding="utf-8"))
    result = RenderResult.model_validate(state["render"])
    checks, frames = check_video(plan, result), describe_frames(plan, result)
    context_of(runtime).write_artefact(f"round-{state['iteration']}/checks.json", checks.model_dump(mode="json"))
    context_of(runtime).write_artefact(f"round-{state['iteration']}/frames.json", frames)
    return {"checks": checks.model_dump(mode="json"), "frames": frames}


def _check_facts(checks: dict[str, Any]) -> list[str]:
    """The video checks as short sentences a critic or the evaluator can read."""
    facts = [f"{flag['kind'].replace('_', ' ')}{' in scene ' + flag['scene_id'] if flag.get('scene_id') else ''}: "
             f"{flag['detail']}" for flag in checks.get("flags", [])] or ["no problem flagged by the automatic checks"]
    facts.append(f"figures of the paper used: {', '.join(checks.get('figures_used', [])) or 'none'} "
                 f"of {checks.get('figures_available', 0)} available")
    rates = checks.get("words_per_second", {})
    if rates:
        facts.append("on-screen words per second: " + ", ".join(f"{k} {v:.1f}" for k, v in rates.items()))
    return facts


def _thumbnails(render_result: dict[str, Any]) -> list[str]:
    return [str(scene["thumbnail"]) for scene in render_result.get("scenes", [])]


def to_critics(state: SciTalkState) -> list[Send]:
    """One critic per persona, each with the same evidence."""
    payload = {
        "title": state["title"], "iteration": state["iteration"], "frames": state["frames"],
        "script_md": FlashTalk.model_validate(state["script"]).markdown(state["title"]),
        "check_facts": _check_facts(state["checks"]), "critic_images": state.get("critic_images", False),
        "thumbnails": _thumbnails(state["render"]),
    }
    return [Send("critique", {**payload, "persona": name}) for name in state.get("personas", DEFAULT_PERSONAS)]


# -- judge, reflect, next round ----------------------------------------------------------------

def judge(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: this round's scores per persona, its check flags, and its record."""
    round_key = state["iteration"]
    critiques = {k.split("/", 1)[1]: v for k, v in state["critiques"].items() if k.startswith(f"{round_key}/")}
    per_persona = {name: critics.Scores.model_validate(c["scores"]) for name, c in critiques.items()}
    criteria = list(critics.Scores.model_fields)
    record = {
        "round": round_key,
        "dir": str(_round_dir(runtime, round_key)),
        "scores": {name: s.model_dump() for name, s in per_persona.items()},
        "criteria_mean": {c: round(mean(getattr(s, c) for s in per_persona.values()), 3) for c in criteria},
        "mean": round(mean(s.mean() for s in per_persona.values()), 3),
        "flags": {kind: n for kind, n in _flag_counts(state["checks"]).items()},
        "duration_s": state["render"].get("duration_s"),
        "thumbnails": _thumbnails(state["render"]),
        "prompt_versions": {name: p["version"] for name, p in state["prompts"].items()},
        "comments": [{"persona": name, **comment} for name, c in critiques.items() for comment in c["comments"]],
        "dropped_comments": sum(c.get("dropped_comments", 0) for c in critiques.values()),
    }
    context_of(runtime).write_artefact(f"round-{round_key}/critiques.json", {"critiques": critiques, "record": record})
    return {"rounds": [record]}


def _flag_counts(checks: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for flag in checks.get("flags", []):
        counts[flag["kind"]] = counts.get(flag["kind"], 0) + 1
    return counts


def _stop_reason(state: SciTalkState) -> str | None:
    rounds = state["rounds"]
    if len(rounds) >= state.get("iterations", 2):
        return f"reached {len(rounds)} round(s)"
    if len(rounds) >= 2 and rounds[-1]["mean"] <= rounds[-2]["mean"]:
        return f"scores stopped improving ({rounds[-2]['mean']} → {rounds[-1]['mean']})"
    return None


def _feedback(state: SciTalkState, agent: str) -> list[str]:
    record = state["rounds"][-1]
    lines = [f"{c['persona']}: {c['text']}" for c in record["comments"] if c["target"] == agent]
    for flag in state["checks"].get("flags", []):
        if reflector.CHECK_OWNERS.get(flag["kind"]) == agent:
            lines.append(f"automatic check, scene {flag.get('scene_id')}: {flag['kind']}: {flag['detail']}")
    return lines


def after_judge(state: SciTalkState) -> list[Send] | str:
    """Reflect (one ``Send`` per generator with feedback) or finish."""
    if _stop_reason(state) is not None:
        return "evaluate"
    sends = []
    for agent in GENERATORS:
        feedback = _feedback(state, agent)
        if feedback:
            sends.append(Send("reflect", {"prompt": state["prompts"][agent], "role": ROLES[agent],
                                          "feedback": feedback, "scores": state["rounds"][-1]["criteria_mean"]}))
    return sends or "evaluate"


def next_round(state: SciTalkState) -> dict[str, Any]:
    """Advance the round counter; record the prompt versions the next round starts with."""
    iteration = state["iteration"] + 1
    changed = [{"round": iteration, **p} for p in state["prompts"].values()
               if p["version"] > state["rounds"][-1]["prompt_versions"].get(p["agent"], 0)]
    return {"iteration": iteration, "prompt_history": changed}


# -- finish ------------------------------------------------------------------------------------

def _best(state: SciTalkState) -> dict[str, Any]:
    """The round whose video is kept: best mean critic score, then fewest check flags, then the later
    round (its prompts carry more feedback). Small judges often tie, and the checks then decide."""
    return max(state["rounds"], key=lambda r: (r["mean"], -sum(r["flags"].values()), r["round"]))


def evaluate(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """The evaluation agent on the best round's video."""
    best = _best(state)
    directory = Path(best["dir"])
    script = (directory / "script.md").read_text(encoding="utf-8")
    checks = json.loads((directory / "checks.json").read_text(encoding="utf-8"))
    frames = json.loads((directory / "frames.json").read_text(encoding="utf-8"))
    return evaluator.evaluate_video(
        {"outline": state["outline"], "script_md": script, "frames": frames, "check_facts": _check_facts(checks)}, runtime)


def report(state: SciTalkState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: the best round's files at the top of the run, and ``report.md`` with the plot."""
    from agentgraphs.evals.scitalk_report import write_report

    context = context_of(runtime)
    best = _best(state)
    source = Path(best["dir"])
    artefacts: dict[str, str] = {}
    for name in ("video.mp4", "subtitles.srt", "script.md", "scene_plan.json"):
        with atomic_path(context.directory() / name) as tmp:
            shutil.copyfile(source / name, tmp)
        artefacts[name.split(".")[0]] = str(context.directory() / name)
    path = write_report(
        context.directory(), title=state["title"], paper=state["paper"], rounds=state["rounds"], best_round=best["round"],
        stop_reason=_stop_reason(state) or "no generator received feedback", evaluation=state.get("evaluation"),
        notes=state.get("notes", []), prompt_history=state.get("prompt_history", []),
    )
    return {"artefacts": {**artefacts, "report": str(path)}}


@register("graph", name="scitalk", inputs=SciTalkInputs, main_artefact="video")
def build() -> StateGraph[SciTalkState]:
    """A paper PDF to a narrated short video, refined by viewer-persona feedback (SciTalk)."""
    builder = StateGraph(SciTalkState, context_schema=RunContext)
    builder.add_node("parse", parse)
    builder.add_node("write_script", flashtalk_writer.write_flashtalk)
    builder.add_node("plan_scenes", scene_planner.plan_scenes)
    builder.add_node("gather_scenes", gather)
    builder.add_node("text_editor", text_editor.edit_text)
    builder.add_node("layout_allocator", layout_allocator.allocate_layout)
    builder.add_node("effects_assistant", effects_assistant.choose_effects)
    builder.add_node("compose", compose)
    builder.add_node("narrate", narrate)
    builder.add_node("render", render)
    builder.add_node("check", check)
    builder.add_node("critique", critics.critique_video)
    builder.add_node("judge", judge)
    builder.add_node("reflect", reflector.reflect_prompt)
    builder.add_node("next_round", next_round)
    builder.add_node("evaluate", evaluate)
    builder.add_node("report", report)

    builder.add_edge(START, "parse")
    builder.add_edge("parse", "write_script")
    builder.add_conditional_edges("write_script", to_scene_planners, ["plan_scenes"])
    builder.add_edge("plan_scenes", "gather_scenes")
    builder.add_conditional_edges("gather_scenes", to_editors, list(EDITORS))
    for agent in EDITORS:
        builder.add_edge(agent, "compose")
    builder.add_edge("compose", "narrate")
    builder.add_edge("narrate", "render")
    builder.add_edge("render", "check")
    builder.add_conditional_edges("check", to_critics, ["critique"])
    builder.add_edge("critique", "judge")
    builder.add_conditional_edges("judge", after_judge, ["reflect", "evaluate"])
    builder.add_edge("reflect", "next_round")
    builder.add_edge("next_round", "write_script")
    builder.add_edge("evaluate", "report")
    builder.add_edge("report", END)
    return builder


graph = build().compile(name="scitalk")
"""For LangGraph Studio (``langgraph.json``); the server supplies the checkpointer."""
