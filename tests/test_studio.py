"""LangGraph Studio, end to end: ``agentgraphs studio`` serves ``langgraph.json`` and every call the
Studio UI makes works through ``langgraph_sdk`` against it.

The Studio UI itself is a hosted page that cannot be opened here, but everything it shows comes from
the dev server's API: the assistant of each graph, its drawing, its input and context schemas,
threads, a streamed run (per-node state updates and the LLM's tokens), and the thread's history.
The run is real: PyMuPDF reads the sample paper and an embedded llama.cpp model writes the digest
inside the server process.

Which model runs: the server's default is SmolLM2 (``AGENTGRAPHS_MODEL``; used in place from its
package, nothing assembled), but the run asks, through Studio's context, for the embedded Qwen by
the path of its already-assembled GGUF in the user's cache. Measured on the summariser's real
prompt, SmolLM2's first answer on a fresh llama.cpp server ran to the 1024-token limit in 2 of 5
fresh processes (a "1.1.1..." loop inside a JSON string, 20 s to 6 min), and under Studio's
"messages" streaming a length-truncated structured answer is not repaired but fails the run
(openai's ``LengthFinishReasonError`` → ``ModelError``). Qwen answered validly in ~20 s, 4 of 4.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

for _module in ("langgraph_cli", "langgraph_api", "langgraph_sdk"):
    pytest.importorskip(_module, reason="Studio needs the studio extra: pip install 'agentgraphs[studio]'")
from langgraph_sdk import get_sync_client  # noqa: E402
from langgraph_sdk.client import SyncLangGraphClient  # noqa: E402

from agentgraphs.errors import ModelSpecError  # noqa: E402
from agentgraphs.models.embedded import gguf_path  # noqa: E402
from agentgraphs.models.structured import extract_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GRAPH_ID = "paper-digest"
NODES = ("read_paper", "summarize", "write_digest")
SERVER_MODEL = "local:smollm2-135m"  # the server's default; used in place from its package
READY_DEADLINE_S = 90.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Studio:
    """The running dev server."""

    process: subprocess.Popen[bytes]
    url: str
    home: Path
    log: Path

    def log_tail(self, lines: int = 80) -> str:
        """The end of the server's log, without colour codes, for assertion messages."""
        try:
            text = ANSI.sub("", self.log.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            return f"(no server log: {exc})"
        # The server logs every request and a worker heartbeat: keep what explains a failure.
        kept = [line for line in text.splitlines() if "Worker stats" not in line]
        return "\n".join(kept[-lines:])

    def client(self) -> SyncLangGraphClient:
        # api_key=None: never pick up a LangSmith key from the environment for a local server.
        return get_sync_client(url=self.url, api_key=None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _announced_url(log: Path) -> str | None:
    """The API address the server printed (it moves to another port if the one asked is taken)."""
    try:
        text = ANSI.sub("", log.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    match = re.search(r"API:\s*(http://[0-9.]+:\d+)", text)
    return match.group(1) if match else None


def _ok(url: str) -> bool:
    import httpx

    try:
        response = httpx.get(f"{url}/ok", timeout=2.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("ok") is True


def _server_env(home: Path) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items()
        # A role or run-dir override in the caller's environment would change what the run does.
        if not key.startswith(("AGENTGRAPHS_MODEL", "AGENTGRAPHS_RUN_DIR", "AGENTGRAPHS_CACHE", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update({
        "AGENTGRAPHS_HOME": str(home),  # Studio runs write under $AGENTGRAPHS_HOME/studio/<thread>
        "AGENTGRAPHS_MODEL": SERVER_MODEL,
        "HF_HUB_OFFLINE": "1",
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        # One llama.cpp thread: on a small shared machine two threads that spin-wait for each other
        # collapse when other processes take a core (Qwen: ~25 s for the digest with 1 thread
        # while a benchmark ran, 195 s with 2; 20 s either way on an idle machine).
        "AGENTGRAPHS_LLAMA_THREADS": "1",
        # The server runs outside the project folder, where ../shared/data does not lead to the data.
        "AGENTGRAPHS_SHARED_DATA": os.environ.get("AGENTGRAPHS_SHARED_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")),
        "PYTHONUNBUFFERED": "1",
        # `agentgraphs studio` finds the `langgraph` command on PATH: the one beside this Python.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    })
    return env


def _graph_spec(spec: Any) -> Any:
    """A graph spec of langgraph.json with its file path made absolute (``./x.py:graph``)."""
    if isinstance(spec, dict):
        return {**spec, "path": _graph_spec(spec["path"])} if "path" in spec else spec
    file, sep, attr = str(spec).rpartition(":")
    if sep and (file.endswith(".py") or "/" in file):
        return f"{(REPO / file).resolve()}:{attr}"
    return spec


def _config_outside_repo(root: Path) -> Path:
    """The repo's langgraph.json, paths made absolute, so the server can run from ``root``.

    The dev server keeps its threads, runs and checkpoints in ``./.langgraph_api`` under its
    working directory and re-runs, at the next start, any run it had not yet flushed as finished
    (seen here: each test session re-ran the previous sessions' runs). langgraph-cli 0.4 drops
    ``disable_persistence`` from the config and overrides LANGGRAPH_DISABLE_FILE_PERSISTENCE, so
    the only way to keep the test's state out of the project (and out of a developer's Studio) is
    another working directory.
    """
    config = json.loads((REPO / "langgraph.json").read_text(encoding="utf-8"))
    config["graphs"] = {name: _graph_spec(spec) for name, spec in config.get("graphs", {}).items()}
    config["dependencies"] = [
        str((REPO / dep).resolve()) if dep.startswith((".", "/")) else dep for dep in config.get("dependencies", [])
    ]
    if isinstance(config.get("env"), str):
        config["env"] = str((REPO / config["env"]).resolve())
    path = root / "langgraph.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (agentgraphs → langgraph dev → workers) and wait."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:  # whatever of the group is left, including children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """``agentgraphs studio`` on a free port; its working directory, log and $AGENTGRAPHS_HOME in a
    temp folder."""
    root = tmp_path_factory.mktemp("studio")
    home = root / "home"
    home.mkdir()
    log = root / "server.log"  # outside the project: logs there would trigger reloads
    config = _config_outside_repo(root)
    port = _free_port()
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "agentgraphs.cli", "studio", "--port", str(port), "--config", str(config)],
            cwd=root, env=_server_env(home), stdout=sink, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = Studio(process=process, url=f"http://127.0.0.1:{port}", home=home, log=log)
    try:
        deadline = time.monotonic() + READY_DEADLINE_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the Studio server exited with {process.returncode} before it was ready; "
                            f"log ({log}):\n{server.log_tail()}")
            announced = _announced_url(log)
            if announced is not None:
                server.url = announced
            if _ok(server.url):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the Studio server did not answer GET {server.url}/ok within "
                            f"{READY_DEADLINE_S:.0f} s; log ({log}):\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def client(studio: Studio) -> SyncLangGraphClient:
    return studio.client()


@pytest.fixture(scope="module")
def assistant(client: SyncLangGraphClient) -> dict[str, Any]:
    found = client.assistants.search(graph_id=GRAPH_ID, limit=10)
    assert found, f"no assistant for graph {GRAPH_ID!r}: is it listed in langgraph.json?"
    return dict(found[0])


@dataclass
class DigestRun:
    """One streamed run of paper-digest on a new thread, as Studio starts it."""

    thread_id: str
    model: str
    parts: list[Any] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, event: str) -> list[Any]:
        return [part.data for part in self.parts if part.event == event]


@pytest.fixture(scope="module")
def run_model() -> str:
    """The embedded Qwen by path: assembled once per machine in the user's cache (as `make demo`
    does), never again into the server's temporary $AGENTGRAPHS_HOME (see the module docstring)."""
    try:
        return f"local:{gguf_path('qwen2.5-0.5b')}"
    except ModelSpecError as exc:
        pytest.skip(f"the Studio run needs the embedded Qwen (make setup): {exc}")


@pytest.fixture(scope="module")
def digest_run(studio: Studio, client: SyncLangGraphClient, assistant: dict[str, Any], sample_paper: Path,
               run_model: str) -> DigestRun:
    thread = client.threads.create(metadata={"test": "test_studio"})
    run = DigestRun(thread_id=thread["thread_id"], model=run_model)
    started = time.perf_counter()
    # Studio sends its context form as `context` (RunContext as JSON); no run_dir, as in Studio.
    for part in client.runs.stream(
        thread["thread_id"], assistant["assistant_id"],
        input={"paper": str(sample_paper), "max_pages": 1},
        context={"models": {"default": run_model}},
        stream_mode=["updates", "messages-tuple"],
    ):
        run.parts.append(part)
    run.seconds = time.perf_counter() - started
    errors = run.of("error")
    assert not errors, f"the run failed: {errors}; server log:\n{studio.log_tail(120)}"
    return run


# -- what Studio shows before a run --------------------------------------------------------------


def test_server_lists_the_graph_as_an_assistant(client: SyncLangGraphClient, assistant: dict[str, Any]) -> None:
    assert assistant["graph_id"] == GRAPH_ID
    every = client.assistants.search(limit=100)
    assert GRAPH_ID in {a["graph_id"] for a in every}
    assert client.assistants.get(assistant["assistant_id"])["graph_id"] == GRAPH_ID


def test_graph_drawing_has_the_three_nodes_in_order(client: SyncLangGraphClient, assistant: dict[str, Any]) -> None:
    drawing = client.assistants.get_graph(assistant["assistant_id"])
    ids = {node["id"] for node in drawing["nodes"]}
    assert set(NODES) <= ids, f"nodes drawn: {sorted(ids)}"
    edges = {(edge["source"], edge["target"]) for edge in drawing["edges"]}
    path = ["__start__", *NODES, "__end__"]
    assert set(zip(path, path[1:])) <= edges, f"edges drawn: {sorted(edges)}"


def test_schemas_show_the_inputs_and_the_run_context(client: SyncLangGraphClient, assistant: dict[str, Any]) -> None:
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    assert schemas["graph_id"] == GRAPH_ID
    inputs = schemas["input_schema"]["properties"]
    assert "paper" in inputs and "max_pages" in inputs
    assert inputs["paper"]["type"] == "string" and inputs["max_pages"]["type"] == "integer"
    # Studio's context form comes from RunContext (a dataclass, so the server can build its schema).
    context = schemas["context_schema"]
    assert context is not None, "no context schema: Studio would show no form for models/run_dir/cache"
    assert {"models", "run_dir", "cache"} <= set(context["properties"])
    assert context["properties"]["models"]["type"] == "object"



def test_scitalk_draws_its_fan_outs_and_feedback_loop(client: SyncLangGraphClient) -> None:
    """Studio shows SciTalk's loop as an edge (judge → reflect → next round → script) and its inputs."""
    found = client.assistants.search(graph_id="scitalk", limit=10)
    assert found, "no assistant for graph 'scitalk': is it listed in langgraph.json?"
    assistant_id = found[0]["assistant_id"]
    drawing = client.assistants.get_graph(assistant_id)
    edges = {(edge["source"], edge["target"]) for edge in drawing["edges"]}
    loop = [("judge", "reflect"), ("reflect", "next_round"), ("next_round", "write_script"), ("judge", "evaluate")]
    fan_outs = [("write_script", "plan_scenes"), ("gather_scenes", "text_editor"), ("check", "critique")]
    assert set(loop + fan_outs) <= edges, f"edges drawn: {sorted(edges)}"
    inputs = client.assistants.get_schemas(assistant_id)["input_schema"]["properties"]
    assert {"paper", "iterations", "size", "personas", "voice", "avatar"} <= set(inputs)


def test_mpo_draws_its_training_and_meta_loop(client: SyncLangGraphClient) -> None:
    """Studio shows MPO's loop: train → (train | diagnose → three meta stages → train | report)."""
    found = client.assistants.search(graph_id="mpo", limit=10)
    assert found, "no assistant for graph 'mpo': is it listed in langgraph.json?"
    assistant_id = found[0]["assistant_id"]
    edges = {(edge["source"], edge["target"]) for edge in client.assistants.get_graph(assistant_id)["edges"]}
    loop = [("train", "train"), ("train", "diagnose"), ("diagnose", "meta_analysis"), ("meta_analysis", "meta_refinement"),
            ("meta_refinement", "meta_merging"), ("meta_merging", "train"), ("train", "report")]
    assert set(loop) <= edges, f"edges drawn: {sorted(edges)}"
    inputs = client.assistants.get_schemas(assistant_id)["input_schema"]["properties"]
    assert {"task", "steps", "meta_every", "policy", "judge", "meta_judge", "initial_rubric"} <= set(inputs)

def test_lawflow_stops_at_each_decision_point_and_resumes_with_the_answer(client: SyncLangGraphClient,
                                                                          shared_data: Path) -> None:
    """Studio shows LawFlow's interrupts (plan review, then each decision) and resumes with Command(resume=...)."""
    from agentgraphs.testing.openai_server import OpenAITestServer, ServerBehaviour
    from agentgraphs.testing.schema_reply import schema_reply

    found = client.assistants.search(graph_id="lawflow", limit=10)
    assert found, "no assistant for graph 'lawflow': is it listed in langgraph.json?"
    assistant_id = found[0]["assistant_id"]
    edges = {(edge["source"], edge["target"]) for edge in client.assistants.get_graph(assistant_id)["edges"]}
    assert {("execute", "monitor"), ("monitor", "execute"), ("monitor", "brainstorm"), ("brainstorm", "decide"),
            ("decide", "execute"), ("decide", "draft"), ("draft", "report")} <= edges, f"edges drawn: {sorted(edges)}"
    with OpenAITestServer(ServerBehaviour(reply=schema_reply)) as server:
        context = {"models": {"default": f"vllm:test-model@{server.base_url}"}}
        thread = client.threads.create(metadata={"test": "test_studio lawflow"})["thread_id"]
        client.runs.wait(thread, assistant_id, input={"scenario": "5", "plan_source": "human", "max_turns": 2}, context=context)
        asked = []
        for answer in ("accept", "llc", {"choice": "disregarded_entity", "rationale": "one owner, no election"}):
            state = client.threads.get_state(thread)
            [question] = [i["value"] for task in state["tasks"] for i in task["interrupts"]]
            asked.append(question.get("point", question["kind"]))
            client.runs.wait(thread, assistant_id, command={"resume": answer}, context=context)
        state = client.threads.get_state(thread)
    assert asked == ["plan_review", "entity_type", "tax_treatment"]
    assert not state["next"] and state["values"]["decided"]["tax_treatment"]["rationale"] == "one owner, no election"
    assert Path(state["values"]["artefacts"]["report"]).is_file()


# -- a run, as Studio streams it -----------------------------------------------------------------


def test_run_streams_an_update_from_every_node(digest_run: DigestRun) -> None:
    updates = digest_run.of("updates")
    order = [node for update in updates for node in update]
    assert order == list(NODES), f"updates came from {order}"
    read = next(update["read_paper"] for update in updates if "read_paper" in update)
    assert read["title"] and read["paper_text"] and read["pages_note"].startswith("read pages 1–1")


def test_run_writes_the_digest_artefact(studio: Studio, client: SyncLangGraphClient, digest_run: DigestRun) -> None:
    state = client.threads.get_state(digest_run.thread_id)
    assert state["next"] == []
    values = state["values"]
    digest = values["digest"]
    assert isinstance(digest["title"], str) and digest["title"].strip()
    assert digest["findings"], digest
    path = Path(values["artefacts"]["digest"])
    assert path.is_file(), f"{path} missing; server log:\n{studio.log_tail()}"
    # No run_dir in the context: the server's runs go under $AGENTGRAPHS_HOME/studio/<thread id>.
    assert path.parent == studio.home / "studio" / digest_run.thread_id
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# {digest['title']}\n")
    assert "## Findings" in text
    # The model call was traced into the same run directory.
    trace = [json.loads(line) for line in (path.parent / "trace.jsonl").read_text(encoding="utf-8").splitlines()]
    assert trace and {record["role"] for record in trace} == {"summarizer"}
    assert {record["model"] for record in trace} == {digest_run.model}


def test_run_streams_the_summarizer_tokens(client: SyncLangGraphClient, digest_run: DigestRun) -> None:
    # "messages-tuple" parts are [message chunk, metadata]. The summariser's structured-output call
    # is an ordinary chat call (JSON-schema-constrained), so LangGraph streams its tokens: the JSON
    # as it is written. A repair retry would be a second message with its own id; the last one is
    # the answer that was kept.
    messages = digest_run.of("messages")
    assert messages, "no message events were streamed"
    nodes = {metadata.get("langgraph_node") for _, metadata in messages}
    assert nodes == {"summarize"}, f"messages came from {nodes}"
    by_call: dict[str, list[str]] = {}
    for chunk, _ in messages:
        assert chunk["type"] == "AIMessageChunk"
        by_call.setdefault(chunk["id"], []).append(chunk.get("content") or "")
    texts = ["".join(pieces) for pieces in by_call.values()]
    assert sum(1 for pieces in by_call.values() for piece in pieces if piece) > 5, "tokens were not streamed one by one"
    digest = client.threads.get_state(digest_run.thread_id)["values"]["digest"]
    assert extract_json(texts[-1])["title"] == digest["title"]


def test_history_has_a_checkpoint_per_step(client: SyncLangGraphClient, digest_run: DigestRun) -> None:
    history = client.threads.get_history(digest_run.thread_id, limit=20)
    assert len(history) >= 4, f"{len(history)} checkpoints"
    chronological = list(reversed(history))  # the server lists the newest first
    steps = [state["metadata"]["step"] for state in chronological]
    assert steps == sorted(steps) and len(set(steps)) == len(steps), steps
    scheduled = [name for state in chronological for name in state["next"]]
    assert scheduled == ["__start__", *NODES], scheduled
    assert chronological[-1]["next"] == [] and "digest" in chronological[-1]["values"]
    assert all(state["checkpoint"]["thread_id"] == digest_run.thread_id for state in chronological)
