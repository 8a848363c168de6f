"""mpo: a policy trained by GRPO against an LLM judge whose rubric a meta-reward model keeps rewriting.

setup → train (k = ``meta_every`` real update steps: rollouts, judge scores, GRPO update, checkpoint)
→ every k steps: diagnose → meta-analysis → meta-refinement → meta-merging → train, until ``steps``
→ report. With ``meta`` off the same loop trains against the static starting rubric, which is the
baseline MPO compares with. Every step's rollouts and scores, every rubric version and every
meta-stage output are written under the run directory; the policy's checkpoints live in
``policy/``, so a killed run resumes at the last checkpoint and never trains a step twice.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import random
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, FilePath, field_validator, model_validator
from typing_extensions import TypedDict

from agentgraphs.agents.mpo import meta_reward_model as mrm
from agentgraphs.agents.mpo.reward_model import score_responses
from agentgraphs.graph_spec import Artefacts
from agentgraphs.models import GatewayChatModel
from agentgraphs.registry import names, register
from agentgraphs.rewards.diagnostics import Diagnosis, diagnose
from agentgraphs.rewards.rubric import Rubric, diff
from agentgraphs.runtime import RunContext, context_of
from agentgraphs.tasks import Task, load_task
from agentgraphs.trainers.grpo import check_batch_split

__all__ = ["MPOInputs", "MPOState", "build", "graph"]


class MPOInputs(BaseModel):
    """Inputs of the mpo graph."""

    task: str = Field(default="essay_writing", description="A registered task (essay_writing, math, or a plug-in's).")
    steps: int = Field(default=20, ge=1, le=1_000_000, description="Policy update steps in total.")
    meta_every: int = Field(default=5, ge=1, description="Update steps between two rubric rewrites (k).")
    meta: bool = Field(default=True, description="Rewrite the rubric every k steps (MPO); off: static rubric baseline.")
    policy: str = Field(default="hf:smollm2-135m", description="The policy to train: hf:<embedded name | directory | Hub id>.")
    judge: str | None = Field(default=None, description="Model string of the reward model; default: the run's judge role.")
    meta_judge: str | None = Field(default=None, description="Model string of the meta-reward model; default: the run's meta_judge role.")
    initial_rubric: str | None = Field(default=None, description="One of the task's rubrics by name, or a rubric file (MPO text form).")
    prompts_per_step: int = Field(default=2, ge=1, description="Prompts per update step.")
    num_generations: int = Field(default=4, ge=2, description="Completions per prompt (the GRPO group).")
    max_completion_length: int = Field(default=96, ge=8, description="Most tokens per completion.")
    learning_rate: float = Field(default=1e-5, gt=0, description="Policy learning rate (constant schedule).")
    meta_samples: int = Field(default=4, ge=1, le=16, description="Rollouts the meta-reward model analyses per meta step.")
    prompt_limit: int | None = Field(default=None, ge=1, description="Use only the task's first N prompts.")
    seed: int = Field(default=0, description="Seed of prompt order, sampling and meta-sample choice.")
    processes: int = Field(default=1, ge=1, description="Training processes, one per GPU; above 1 the trainer is launched "
                                                         "with torchrun and the judge stays in this process.")
    accelerate_config: FilePath | None = Field(default=None, description="An accelerate config (multi-GPU, DeepSpeed, "
                                                                          "FSDP) to launch the trainer with.")

    @model_validator(mode="after")
    def _batch_splits(self) -> MPOInputs:
        check_batch_split(self.prompts_per_step, self.num_generations, self.processes)
        return self

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        known = names("task")
        if value not in known:
            raise ValueError(f"no task named {value!r}; registered tasks: {', '.join(known)}")
        return value

    @field_validator("policy")
    @classmethod
    def _hf_policy(cls, value: str) -> str:
        if not value.startswith("hf:"):
            raise ValueError(f"the policy is trained in-process, so it must be an hf: model string, got {value!r} "
                             "(e.g. hf:smollm2-135m or hf:/path/to/model)")
        return value


class MPOState(TypedDict, total=False):
    # inputs
    task: str
    steps: int
    meta_every: int
    meta: bool
    policy: str
    judge: str | None
    meta_judge: str | None
    initial_rubric: str | None
    prompts_per_step: int
    num_generations: int
    max_completion_length: int
    learning_rate: float
    meta_samples: int
    prompt_limit: int | None
    seed: int
    processes: int
    accelerate_config: str | None
    # the loop
    rubric: dict[str, Any]
    """The rubric in force: ``{"text", "version", "parent_version"}``."""
    step: int
    history: Annotated[list[dict[str, Any]], operator.add]
    """One entry per update step: trainer metrics, hack indicators, the rubric version used."""
    rubric_log: Annotated[list[dict[str, Any]], operator.add]
    rollouts_path: str
    baseline_words: float
    judge_failures: Annotated[int, operator.add]
    diagnosis: dict[str, Any]
    meta_batch: list[dict[str, Any]]
    analyses: list[dict[str, Any] | None]
    drafts: list[dict[str, Any] | None]
    artefacts: Artefacts


def _task(state: MPOState) -> Task:
    return load_task(state["task"], limit=state.get("prompt_limit"))


def _model(runtime: Runtime[RunContext], role: str, override: str | None, **kwargs: Any) -> GatewayChatModel:
    context = context_of(runtime)
    if override:
        context = dataclasses.replace(context, models={**context.models, role: override})
    return context.model(role, **kwargs)


def _rubric(state: MPOState) -> Rubric:
    r = state["rubric"]
    return Rubric.from_text(r["text"], version=int(r["version"]), parent_version=r.get("parent_version"))


def _rubric_state(rubric: Rubric) -> dict[str, Any]:
    return {"text": rubric.to_text(), "version": rubric.version, "parent_version": rubric.parent_version}


def setup(state: MPOState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: the task's starting rubric becomes version 1, written to ``rubrics/v1.txt``."""
    rubric = _task(state).rubric(state.get("initial_rubric"))
    path = context_of(runtime).write_artefact("rubrics/v1.txt", rubric.to_text())
    entry = {"version": 1, "step": 0, "accepted": True, "reason": "starting rubric", "path": path, "diff": ""}
    return {"rubric": _rubric_state(rubric), "step": 0, "rubric_log": [entry], "judge_failures": 0}


def train(state: MPOState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Trainer node: k GRPO update steps against the current rubric, then a checkpoint (MPO's rollout/score/update)."""
    from agentgraphs.trainers.grpo import GRPOSettings, RewardSpec, latest_checkpoint, train_segment

    context = context_of(runtime)
    run_dir = context.directory()
    target = min(state["step"] + state["meta_every"], state["steps"])
    record_path = run_dir / "segments" / f"{target:05d}.json"
    done = latest_checkpoint(run_dir / "policy")
    if done is not None and done[0] >= target:  # trained before a kill, so the state never saw it
        if record_path.is_file():
            return json.loads(record_path.read_text(encoding="utf-8"))
        # killed between the checkpoint and its record: the weights are kept, those steps' records are lost
        return {"step": target, "history": [], "rollouts_path": state.get("rollouts_path", ""), "judge_failures": 0}
    task, rubric = _task(state), _rubric(state)
    judge = _model(runtime, "judge", state.get("judge"), temperature=0.0)
    criteria: list[dict[str, Any]] = []  # the judge's per-criterion scores, in the order it was called
    failures = 0

    def judge_reward(prompts: list[str], completions: list[str], step: int) -> list[float]:
        nonlocal failures
        scores = score_responses(prompts, completions, rubric, model=judge, reduce=task.judge_reduce)
        failures += sum(s.failed for s in scores)
        criteria.extend({"step": step, "failed": s.failed, "criteria": [c.model_dump() for c in s.criteria]}
                        for s in scores)
        return [s.reward for s in scores]

    rewards = [RewardSpec(name="judge", fn=judge_reward)]
    if task.exact_reward is not None and task.exact_weight:
        exact = task.exact_reward
        rewards.append(RewardSpec(name="exact", weight=task.exact_weight,
                                  fn=lambda ps, cs, _step: [exact(p, c) for p, c in zip(ps, cs, strict=True)]))
    settings = GRPOSettings(total_steps=state["steps"], num_generations=state.get("num_generations", 4),
                            prompts_per_step=state.get("prompts_per_step", 2), seed=state.get("seed", 0),
                            max_completion_length=state.get("max_completion_length", 96),
                            learning_rate=state.get("learning_rate", 1e-5), processes=state.get("processes", 1),
                            accelerate_config=state.get("accelerate_config"))
    already = done[0] if done is not None else 0
    segment = train_segment(state["policy"], list(task.prompts), rewards, settings, run_dir / "policy",
                            max(0, target - already), system_prompt=task.system_prompt)
    # The trainer keeps its samples in call order, step by step, as the judge was called.
    if [s.step for s in segment.samples] != [c["step"] for c in criteria]:
        raise RuntimeError("the trainer's samples and the judge's calls are out of step; report this as a bug")
    rollouts = [{**sample.model_dump(), **judged, "judge": sample.rewards["judge"], "exact": sample.rewards.get("exact"),
                 "rubric_version": rubric.version}
                for sample, judged in zip(segment.samples, criteria, strict=True)]
    rollouts_path = context.write_artefact(f"rollouts/steps-{segment.start_step + 1:05d}-{segment.end_step:05d}.jsonl",
                                           "".join(json.dumps(r) + "\n" for r in rollouts))
    history = _history(segment.steps, rollouts, rubric.version)
    update: dict[str, Any] = {"step": segment.end_step, "history": history, "rollouts_path": rollouts_path,
                              "judge_failures": failures}
    if "baseline_words" not in state and history:
        update["baseline_words"] = history[0].get("median_words", 0.0)  # the policy's own length before training moved it
    context.write_artefact(f"segments/{target:05d}.json", update)
    return update


def _history(steps: list[Any], rollouts: list[dict[str, Any]], version: int) -> list[dict[str, Any]]:
    by_step: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rollouts:
        by_step[r["step"]].append(r)
    history = []
    for record in steps:
        entry = {**record.model_dump(), "rubric_version": version}
        group = by_step.get(record.step, [])
        if group:
            d = diagnose([r["completion"] or " " for r in group])
            entry.update(mean_words=d.mean_words, median_words=d.median_words, repetition=d.repetition,
                         distinct_2=d.distinct_2, format_violation_share=d.format_violation_share,
                         judge_mean=statistics.fmean(r["judge"] for r in group))
        history.append(entry)
    return history


def after_train(state: MPOState) -> str:
    if state["step"] >= state["steps"]:
        return "report"
    return "diagnose" if state.get("meta", True) else "train"


def _read_rollouts(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def diagnose_rollouts(state: MPOState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: hack indicators over the last k steps' rollouts, and the rollouts the MRM will read."""
    rollouts = _read_rollouts(state["rollouts_path"])
    diagnosis = diagnose([r["completion"] or " " for r in rollouts], scores=[r["reward"] for r in rollouts],
                         steps=[r["step"] for r in rollouts])
    chosen = _meta_batch(rollouts, state.get("meta_samples", 4), seed=state.get("seed", 0) + state["step"])
    context_of(runtime).write_artefact(f"meta/step-{state['step']:05d}/diagnosis.json", diagnosis.model_dump())
    return {"diagnosis": diagnosis.model_dump(), "meta_batch": chosen}


def _meta_batch(rollouts: list[dict[str, Any]], n: int, *, seed: int) -> list[dict[str, Any]]:
    """The highest- and lowest-rewarded rollouts (where hacking and strictness show), the rest at random."""
    ranked = sorted(rollouts, key=lambda r: r["reward"], reverse=True)
    if len(ranked) <= n:
        return ranked
    chosen = [ranked[0], ranked[-1]][:n]
    rest = ranked[1:-1]
    chosen += random.Random(seed).sample(rest, min(n - len(chosen), len(rest)))
    return chosen


def meta_analysis(state: MPOState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Agent node (meta_judge): per sampled rollout, is the score inflated and what does the rubric miss."""
    model = _model(runtime, "meta_judge", state.get("meta_judge"), temperature=0.0)
    analyses = mrm.analyse_samples(state["meta_batch"], _rubric(state), Diagnosis(**state["diagnosis"]), model=model)
    dumped = [a.model_dump() if a is not None else None for a in analyses]
    context_of(runtime).write_artefact(f"meta/step-{state['step']:05d}/analysis.json", dumped)
    return {"analyses": dumped}


def meta_refinement(state: MPOState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Agent node (meta_judge): one proposed rubric per analysed rollout, awards and deductions apart."""
    model = _model(runtime, "meta_judge", state.get("meta_judge"), temperature=0.0)
    analyses = [mrm.SampleAnalysis(**a) if a is not None else None for a in state["analyses"]]
    drafts = mrm.refine_rubrics(state["meta_batch"], analyses, _rubric(state), model=model)
    dumped = [d.model_dump() if d is not None else None for d in drafts]
    context_of(runtime).write_artefact(f"meta/step-{state['step']:05d}/refined.json", dumped)
    return {"drafts": dumped}


def meta_merging(state: MPOState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Agent node (meta_judge): the proposals merged into the next rubric version, with deterministic guards."""
    context = context_of(runtime)
    model = _model(runtime, "meta_judge", state.get("meta_judge"), temperature=0.0)
    rubric, diagnosis = _rubric(state), Diagnosis(**state["diagnosis"])
    guards = mrm.guard_criteria(diagnosis, baseline_median_words=state.get("baseline_words"), previous=rubric)
    drafts = [mrm.RubricDraft(**d) if d is not None else None for d in state["drafts"]]
    outcome = mrm.merge_drafts(drafts, rubric, diagnosis, model=model, guards=guards, samples=state["meta_batch"])
    entry: dict[str, Any] = {"version": outcome.version, "step": state["step"], "accepted": outcome.accepted,
                             "reason": outcome.reason, "path": None, "diff": ""}
    update: dict[str, Any] = {"rubric_log": [entry]}
    if outcome.accepted:
        new = Rubric.from_text(outcome.rubric_text, version=outcome.version, parent_version=rubric.version)
        entry["path"] = context.write_artefact(f"rubrics/v{new.version}.txt", new.to_text())
        entry["diff"] = diff(rubric, new)
        update["rubric"] = _rubric_state(new)
    context.write_artefact(f"meta/step-{state['step']:05d}/merge.json", entry)
    return update


def report(state: MPOState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Tool node: training curves with rubric versions marked, rubric diffs and hack indicators in ``report.md``."""
    from agentgraphs.evals.mpo_report import write_report

    context = context_of(runtime)
    rollouts = sorted(context.directory().glob("rollouts/*.jsonl"))
    last = _read_rollouts(str(rollouts[-1])) if rollouts else []
    final = diagnose([r["completion"] or " " for r in last]).model_dump() if last else None
    metrics = context.write_artefact("metrics.json", {"history": state.get("history", []), "final_diagnosis": final,
                                                      "judge_failures": state.get("judge_failures", 0),
                                                      "rubric_log": state.get("rubric_log", [])})
    path = write_report(context.directory(), task=state["task"], meta=state.get("meta", True),
                        history=state.get("history", []), rubric_log=state.get("rubric_log", []),
                        final_diagnosis=final, judge_failures=state.get("judge_failures", 0))
    return {"artefacts": {"report": str(path), "metrics": metrics, "policy": str(context.directory() / "policy")}}


@register("graph", name="mpo", inputs=MPOInputs, main_artefact="report")
def build() -> StateGraph[MPOState]:
    """GRPO against an LLM judge whose rubric a meta-reward model rewrites every k steps (MPO)."""
    builder = StateGraph(MPOState, context_schema=RunContext)
    builder.add_node("setup", setup)
    builder.add_node("train", train)
    builder.add_node("diagnose", diagnose_rollouts)
    builder.add_node("meta_analysis", meta_analysis)
    builder.add_node("meta_refinement", meta_refinement)
    builder.add_node("meta_merging", meta_merging)
    builder.add_node("report", report)
    builder.add_edge(START, "setup")
    builder.add_edge("setup", "train")
    builder.add_conditional_edges("train", after_train, ["diagnose", "train", "report"])
    builder.add_edge("diagnose", "meta_analysis")
    builder.add_edge("meta_analysis", "meta_refinement")
    builder.add_edge("meta_refinement", "meta_merging")
    builder.add_edge("meta_merging", "train")
    builder.add_edge("report", END)
    return builder


graph = build().compile(name="mpo")
"""For LangGraph Studio (``langgraph.json``); the server supplies the checkpointer."""
