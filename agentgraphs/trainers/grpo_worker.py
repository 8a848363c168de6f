"""One rank of a launched GRPO segment (see :mod:`agentgraphs.trainers.grpo_launch`).

Run by ``torchrun`` or ``accelerate launch`` as ``python -m agentgraphs.trainers.grpo_worker REQUEST``:
the request file names the policy, prompts, settings and reward names; rewards are asked of the
launching process. Rank 0 writes the segment's steps to the request's ``result`` path.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from agentgraphs.atomic import write_json, write_text
from agentgraphs.trainers.grpo import GRPOSettings, RewardScorer, RewardSpec, train_steps
from agentgraphs.trainers.grpo_launch import error_path, remote_reward, watch_launcher


def main(request_path: str) -> None:
    rank = int(os.environ.get("RANK", "0"))
    watch_launcher()
    try:
        request = json.loads(Path(request_path).read_text(encoding="utf-8"))
        rewards = [RewardSpec(name=r["name"], weight=float(r["weight"]), fn=remote_reward(r["name"]))
                   for r in request["rewards"]]
        records = train_steps(request["model"], request["prompts"], RewardScorer(rewards),
                              GRPOSettings.model_validate(request["settings"]), Path(request["output_dir"]),
                              request["start"], request["end"], system_prompt=request["system_prompt"],
                              trained_with=request["trained_with"])
    except Exception as exc:
        # The launcher's own summary hides the cause; the launching process reads it from here.
        write_text(error_path(Path(request_path), rank), f"{type(exc).__name__}: {exc}")
        raise
    if rank == 0:
        write_json(Path(request["result"]), [record.model_dump(mode="json") for record in records])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m agentgraphs.trainers.grpo_worker REQUEST.json (launched by train_segment)")
    main(sys.argv[1])
