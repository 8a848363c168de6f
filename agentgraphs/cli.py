"""The ``agentgraphs`` command: list, run and resume graphs, check models, serve one, start Studio.

Errors meant for users (every :class:`AgentgraphsError`) print one line and exit 2; anything else
prints one line and exits 1, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from agentgraphs.errors import AgentgraphsError

__all__ = ["main"]


def _model_pairs(values: Sequence[str] | None) -> dict[str, str]:
    """``ROLE=STR`` pairs; a bare ``STR`` sets the default role."""
    models: dict[str, str] = {}
    for value in values or []:
        role, sep, text = value.partition("=")
        if sep and ":" not in role:
            models[role.strip()] = text.strip()
        else:
            models["default"] = value.strip()
    return models


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _add_input_flags(parser: argparse.ArgumentParser, schema: type[BaseModel]) -> None:
    """One flag per field of the graph's input schema."""
    group = parser.add_argument_group("graph inputs")
    for name, info in schema.model_fields.items():
        flag = "--" + name.replace("_", "-")
        annotation = _unwrap_optional(info.annotation)
        options: dict[str, Any] = {"dest": f"input__{name}", "default": argparse.SUPPRESS,
                                   "help": (info.description or "") + ("" if info.is_required() else f" (default: {info.default!r})")}
        if annotation is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif get_origin(annotation) is Literal:
            options["choices"] = [str(c) for c in get_args(annotation)]
        elif get_origin(annotation) in (list, tuple, set):
            options["nargs"] = "+"
        if info.is_required():
            options["required"] = True
        group.add_argument(flag, **options)


def _cmd_list(_: argparse.Namespace) -> int:
    from agentgraphs.graph_spec import list_graphs

    graphs = list_graphs()
    width = max((len(g.name) for g in graphs), default=0)
    for spec in graphs:
        print(f"{spec.name:<{width}}  {spec.description}")
    return 0


def _ask(question: dict[str, Any]) -> dict[str, Any]:
    """A decision point's answer typed at the terminal: one of its options, then its optional fields.

    The question is the dict a node passed to ``interrupt``: ``question``, ``options`` (ids),
    optional ``details`` (Markdown shown first) and ``fields`` (name → {prompt, when: [options]}).
    """
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.prompt import Prompt

    console = Console()
    if question.get("error"):
        console.print(f"[red]{question['error']}[/red]")
    if question.get("details"):
        console.print(Markdown(str(question["details"])))
    console.print(f"[bold]{question.get('question', 'Your answer?')}[/bold]")
    options = [str(o) for o in question.get("options") or []]
    if not options:
        return {"choice": Prompt.ask("answer", console=console), "answered_in": "terminal"}
    for number, option in enumerate(options, 1):
        console.print(f"  {number}. {option}")
    picked = Prompt.ask("choose (number or option)", console=console,
                        choices=[*options, *map(str, range(1, len(options) + 1))], show_choices=False)
    choice = options[int(picked) - 1] if picked.isdigit() else picked
    answer: dict[str, Any] = {"choice": choice, "answered_in": "terminal"}
    for name, field in (question.get("fields") or {}).items():
        if field.get("when") and choice not in field["when"]:
            continue
        value = Prompt.ask(str(field.get("prompt", name)), console=console, default="", show_default=False)
        if value.strip():
            answer[name] = value.strip()
    return answer


def _finish(handle: Any) -> int:
    """Drive a run to its end; in a terminal, answer each decision point it stops at and go on."""
    from agentgraphs.runs import resume

    while True:
        for _ in handle:
            pass
        result = handle.result
        if not (result.status == "interrupted" and result.interrupts and sys.stdin.isatty()):
            break
        question = result.interrupts[0]
        handle = resume(result.run_dir, answer=_ask(question if isinstance(question, dict) else {"question": str(question)}))
    print(f"run directory: {result.run_dir}")
    for name, path in sorted(result.artefacts.items()):
        if result.main_artefact is None or Path(path) != result.main_artefact:
            print(f"{name}: {path}")
    if result.status == "interrupted":
        for question in result.interrupts:
            if isinstance(question, dict) and question.get("error"):
                print(f"the answer was refused: {question['error']}", file=sys.stderr)
        print("waiting for a decision: " + json.dumps(result.interrupts, default=str))
        print(f"answer it with: agentgraphs resume {result.run_dir} --answer '<json>'")
    if result.main_artefact is not None:
        print(result.main_artefact)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from agentgraphs.runs import stream

    inputs = {k.removeprefix("input__"): v for k, v in vars(args).items() if k.startswith("input__")}
    handle = stream(args.graph, inputs, models=_model_pairs(args.model), run_dir=args.run_dir, cache=args.cache)
    return _finish(handle)


def _cmd_resume(args: argparse.Namespace) -> int:
    from agentgraphs.runs import resume

    answer = None
    if args.answer is not None:
        try:
            answer = json.loads(args.answer)
        except json.JSONDecodeError:
            answer = args.answer  # a bare word is a fine answer to a multiple-choice question
    return _finish(resume(args.run_dir, answer=answer, models=_model_pairs(args.model)))


def _cmd_models(args: argparse.Namespace) -> int:
    from agentgraphs.models import resolve_model_string
    from agentgraphs.models.embedded import DEFAULT_EMBEDDED, EMBEDDED_MODELS, gguf_path, verify

    failures = 0
    for name, model in EMBEDDED_MODELS.items():
        marker = " (default)" if name == DEFAULT_EMBEDDED else ""
        try:
            path = verify(name) if args.verify else gguf_path(name)
            status = "verified sha256" if args.verify else "present"
            print(f"local:{name}{marker}  {status}  {path}\n    {model.title}")
        except AgentgraphsError as exc:
            failures += 1
            print(f"local:{name}{marker}  MISSING  {exc}")
    roles = sorted({k.removeprefix("AGENTGRAPHS_MODEL_").lower() for k in os.environ if k.startswith("AGENTGRAPHS_MODEL_")})
    print(f"default role → {resolve_model_string('default')}")
    for role in roles:
        print(f"{role} role → {resolve_model_string(role)}")
    return 2 if failures else 0


def _cmd_serve_model(args: argparse.Namespace) -> int:
    from agentgraphs.errors import ModelSpecError
    from agentgraphs.models.llamacpp import llama_server
    from agentgraphs.models.spec import parse_model

    spec = parse_model(args.model)
    if spec.provider != "local":
        raise ModelSpecError(f"serve-model serves local: models only, got {args.model!r}")
    server = llama_server(spec.name, port=args.port, host=args.host)
    print(f"serving local:{spec.name} ({server.path.name}) at {server.base_url}", flush=True)
    print(f"use it from another process as: vllm:{spec.name}@{server.base_url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    return 0


def _cmd_studio(args: argparse.Namespace) -> int:
    config = Path(args.config)
    if not config.is_file():
        raise AgentgraphsError(f"{config} not found; run from the project folder or pass --config path/to/langgraph.json")
    exe = shutil.which("langgraph")
    if exe is None:
        from agentgraphs.errors import MissingExtraError

        raise MissingExtraError(module="langgraph-cli", extra="studio", purpose="LangGraph Studio")
    command = [exe, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(args.port),
               "--n-jobs-per-worker", "10", "--config", str(config)]
    env = {**os.environ, "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": os.environ.get("LANGSMITH_TRACING", "false")}
    print(" ".join(command), flush=True)
    return subprocess.call(command, env=env)


def _cmd_diagnose(args: argparse.Namespace) -> int:
    from agentgraphs.rewards.diagnostics import diagnose, load_responses

    responses = [text for field in args.field for text in load_responses(args.file, field)]
    print(diagnose(responses).model_dump_json(indent=2))
    return 0  # the verdict is in the JSON; a hacked set is not a failed command


def _cmd_lawflow_report(args: argparse.Namespace) -> int:
    from agentgraphs.evals.lawflow_report import write_report

    print(write_report(Path(args.out), data_dir=args.data))
    return 0


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentgraphs", description="Run research agent graphs.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="list graphs").set_defaults(func=_cmd_list)

    run = commands.add_parser("run", help="run a graph: agentgraphs run GRAPH --INPUT VALUE ...")
    run.add_argument("graph")
    run.add_argument("--model", action="append", metavar="ROLE=MODEL", help="model for a role (repeatable); a bare MODEL sets the default")
    run.add_argument("--run-dir", help="where the run's files go (default: runs/<graph>-<time>)")
    run.add_argument("--cache", action="store_true", help="reuse cached model responses for identical calls")
    run.set_defaults(func=_cmd_run)
    # The graph's own flags depend on which graph: add them once its name is known.
    positional = [a for a in argv if not a.startswith("-")]
    if len(positional) >= 2 and positional[0] == "run":
        from agentgraphs.graph_spec import load_graph

        try:
            _add_input_flags(run, load_graph(positional[1]).inputs)
        except AgentgraphsError:
            pass  # reported properly when the command runs

    resume = commands.add_parser("resume", help="continue a killed or paused run")
    resume.add_argument("run_dir")
    resume.add_argument("--answer", help="the reply to a paused run's question (JSON or a word)")
    resume.add_argument("--model", action="append", metavar="ROLE=MODEL", help="swap a role's model for the rest of the run")
    resume.set_defaults(func=_cmd_resume)

    models = commands.add_parser("models", help="list and check the embedded models")
    models.add_argument("--verify", action="store_true", help="hash each model file against its pin")
    models.set_defaults(func=_cmd_models)

    serve = commands.add_parser("serve-model", help="serve a local: model as an OpenAI-compatible endpoint")
    serve.add_argument("model", help="e.g. local:qwen2.5-0.5b")
    serve.add_argument("--port", type=int, default=8081)
    serve.add_argument("--host", default="127.0.0.1")
    serve.set_defaults(func=_cmd_serve_model)

    studio = commands.add_parser("studio", help="start the LangGraph dev server for Studio")
    studio.add_argument("--port", type=int, default=8123)
    studio.add_argument("--config", default="langgraph.json")
    studio.set_defaults(func=_cmd_studio)

    diagnose = commands.add_parser("diagnose", help="reward-hacking indicators over a .json/.jsonl file of responses")
    diagnose.add_argument("file", help="a .jsonl file (one object a line) or a .json list of objects")
    diagnose.add_argument("--field", action="append", required=True, metavar="NAME",
                          help="the field holding a response (repeatable; the fields' responses are pooled)")
    diagnose.set_defaults(func=_cmd_diagnose)

    lawflow = commands.add_parser("lawflow-report", help="human vs LLM workflow analytics of the shared LawFlow data")
    lawflow.add_argument("--out", default="runs/lawflow-report", help="folder for report.md and its plots")
    lawflow.add_argument("--data", help="the LawFlow data folder (default: lawflow/ in $AGENTGRAPHS_SHARED_DATA or ../shared/data)")
    lawflow.set_defaults(func=_cmd_lawflow_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agentgraphs`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = _parser(argv).parse_args(argv)
        return int(args.func(args))
    except AgentgraphsError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; `agentgraphs resume RUN_DIR` continues a run", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
