"""GRPO segments trained by launched worker processes (several GPUs, DeepSpeed, FSDP), rewards kept here.

With ``GRPOSettings.processes > 1`` or an ``accelerate_config``, :func:`~agentgraphs.trainers.grpo.train_segment`
runs the segment through ``torchrun`` (or ``accelerate launch --config_file``) instead of in this
process. Reward functions are closures over this process's state (the judge model, the rubric version
of the step, the records a graph node keeps), which no worker can rebuild; so they stay here, and each
worker rank asks for its completions' rewards over a local socket (:class:`RewardService`). Calls are
served one at a time, in arrival order, so a reward that records what it scored sees the same order
as the samples the segment returns.

The socket is a ``multiprocessing.connection`` listener on 127.0.0.1 with a random authentication
key handed to the workers in their environment, never written to disk; messages are JSON, so a peer
can send data, not code.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from agentgraphs.atomic import write_json

__all__ = ["KEY_ENV", "LAUNCHER_ENV", "SERVICE_ENV", "RewardService", "error_path", "launch_command", "remote_reward",
           "run_workers", "watch_launcher"]

SERVICE_ENV = "AGENTGRAPHS_REWARD_SERVICE"
"""``host:port`` of the reward service, for the workers."""
KEY_ENV = "AGENTGRAPHS_REWARD_KEY"
"""The service's authentication key (hex), for the workers; it lives only in their environment."""
LAUNCHER_ENV = "AGENTGRAPHS_LAUNCHER_PID"
"""The launching process's pid: workers stop when it is gone (see :func:`watch_launcher`)."""
_WATCH_SECONDS = 1.0
_LOG_TAIL = 3000


class RewardService:
    """Serves reward calls from worker ranks: ``(name, prompts, completions, step, rank)`` → floats.

    ``score`` is :meth:`~agentgraphs.trainers.grpo_records.RewardScorer.score` of the launching process,
    so launched segments keep the same records as in-process ones. The first exception a reward raises is kept in
    :attr:`error` and reported to the worker, which then stops; the caller re-raises it.
    """

    def __init__(self, score: Callable[[str, list[str], list[str], int, int], list[float]]) -> None:
        self._score = score
        self._key = secrets.token_bytes(32)
        self._listener = Listener(("127.0.0.1", 0), authkey=self._key)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.error: BaseException | None = None
        self._accepting = threading.Thread(target=self._accept, name="reward-service", daemon=True)

    def __enter__(self) -> RewardService:
        self._accepting.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    @property
    def environment(self) -> dict[str, str]:
        host, port = self._listener.address
        return {SERVICE_ENV: f"{host}:{port}", KEY_ENV: self._key.hex(), LAUNCHER_ENV: str(os.getpid())}

    def _accept(self) -> None:
        while True:
            try:
                connection = self._listener.accept()
            except (OSError, EOFError):
                return  # closed, or a peer without the key (its handshake failed)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: Connection) -> None:
        with connection:
            while True:
                try:
                    request = json.loads(connection.recv_bytes())
                except (EOFError, OSError):
                    return
                connection.send_bytes(json.dumps(self._answer(request)).encode("utf-8"))

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if self.error is not None:
                return {"error": f"an earlier reward call failed: {self.error}"}
            try:
                values = self._score(request["name"], request["prompts"], request["completions"],
                                     int(request["step"]), int(request["rank"]))
            except Exception as exc:  # handed back to this process's caller after the workers stop
                self.error = exc
                return {"error": f"{type(exc).__name__}: {exc}"}
            return {"values": values}


def remote_reward(name: str) -> Callable[[list[str], list[str], int], list[float]]:
    """In a worker: a ``(prompts, completions, step) -> floats`` function that asks the service."""
    host, port = os.environ[SERVICE_ENV].rsplit(":", 1)
    connection = Client((host, int(port)), authkey=bytes.fromhex(os.environ[KEY_ENV]))
    rank = int(os.environ.get("RANK", "0"))
    lock = threading.Lock()

    def reward(prompts: list[str], completions: list[str], step: int) -> list[float]:
        with lock:
            connection.send_bytes(json.dumps({"name": name, "prompts": prompts, "completions": completions,
                                              "step": step, "rank": rank}).encode("utf-8"))
            answer = json.loads(connection.recv_bytes())
        if "error" in answer:
            raise RuntimeError(f"reward {name!r} failed in the launching process: {answer['error']}")
        return [float(v) for v in answer["values"]]

    return reward


def watch_launcher() -> None:
    """In a worker: exit at once when the launching process is gone (killed, say).

    Left running, orphaned ranks would go on training into the run's directory, and could write a
    checkpoint while a resumed run trains there too; their next reward call would fail, but a save
    may come first.
    """
    launcher = int(os.environ[LAUNCHER_ENV])

    def watch() -> None:
        while True:
            time.sleep(_WATCH_SECONDS)
            try:
                os.kill(launcher, 0)
            except ProcessLookupError:
                os._exit(1)  # nothing of this rank's work is worth finishing without its launcher
            except PermissionError:
                pass  # the pid exists (under another user): the launcher is alive

    threading.Thread(target=watch, name="launcher-watch", daemon=True).start()


def error_path(request: Path, rank: int) -> Path:
    """Where a failing rank writes its error, beside the request."""
    return request.with_name(f"{request.name}.rank{rank}.error")


def launch_command(processes: int, accelerate_config: str | None, request: Path) -> list[str]:
    """The worker launch: ``accelerate launch`` with the user's config, else ``torchrun`` (CPU: gloo; GPU: NCCL)."""
    worker = ["-m", "agentgraphs.trainers.grpo_worker", str(request)]
    if accelerate_config:
        return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", accelerate_config,
                "--num_processes", str(processes), *worker]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *worker]


def run_workers(command: Sequence[str], request: dict[str, Any], request_path: Path, log_path: Path,
                service: RewardService) -> None:
    """Run the launched workers to the end, their output appended to ``log_path``.

    A reward's exception is re-raised as itself (a judge server down stays a ModelUnavailableError);
    any other failure names the log. If this process is interrupted, the workers are killed with it.
    """
    write_json(request_path, request)
    with log_path.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **service.environment})
        try:
            code = process.wait()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    errors = sorted(request_path.parent.glob(f"{request_path.name}.rank*.error"))
    causes = "; ".join(f"{path.name.split('.')[-2].replace('rank', 'rank ')}: {path.read_text(encoding='utf-8', errors='replace')}" for path in errors)
    for path in errors:
        path.unlink(missing_ok=True)
    if service.error is not None:
        raise service.error
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL:]
        raise RuntimeError(f"the launched GRPO workers exited with status {code}"
                           + (f" ({causes})" if causes else "") + f"; the command was {' '.join(command[:6])} ..., "
                           f"and its log is {log_path}, ending:\n{tail}")
