"""The documentation matches the code: README.md and every page of docs/.

- Every ```python block that creates an Orchestrator is a complete tasks file: it is written to a
  temporary folder as tasks.py, with a small script for each script it names, and compiled (pure:
  nothing is installed). Any other ```python block is a library snippet, run in the folder of the
  last tasks file above it on the same page. A block preceded by `<!-- fragment -->` is only parsed.
- In every ```python block, each call of the API (`orchestration.X(...)`, `Orchestrator(...)`,
  `add_task(...)`, `skips.X(...)`, `template(...)`, ...) must name something that exists and
  pass only arguments it takes.
- Every `orchestration COMMAND --option` named in inline code or in a code block must exist in the
  click command line; every option named in a command's section of docs/commands.md must be one of
  that command's; every command has help text and a section there naming each of its options.
- The pages that document the API name every argument of it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest

import orchestration
from orchestration import api, notify, skips
from orchestration.api import compile_file
from orchestration.cli import main
from orchestration.compile.environment import capture_environment
from orchestration.define.orchestrator import Orchestrator as DefinedOrchestrator
from orchestration.define.orchestrator import Task
from orchestration.rules.templates import TEMPLATE_FILTERS, TEMPLATE_FUNCTIONS, TEMPLATE_VARIABLES

main.load_all()  # the commands' modules are imported when a command runs; the docs check them all
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
COMMANDS_PAGE = DOCS / "commands.md"

FRAGMENT = "<!-- fragment -->"
PYTHON = ("python", "py", "python3")
SHELL = ("sh", "bash", "shell", "console")
SCRIPT = "#!/bin/bash\nexit 0\n"

OPENING_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
# `orchestration COMMAND ...`, also as .venv/bin/orchestration; not orchestration-exec.
COMMAND_LINE = re.compile(r"(?:^|\s)(?:[\w.~/-]*/)?orchestration\s+(\S.*)$")
COMMAND_NAME = re.compile(r"[a-z][a-z0-9-]*")
OPTION = re.compile(r"--?[A-Za-z][\w-]*")
COMMAND_SECTION = re.compile(r"^## `orchestration ([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)?)`\s*$", re.MULTILINE)


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- reading the pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page."""

    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    fragment: bool

    @property
    def where(self) -> str:
        return f"{relative(self.page)}:{self.line}"


@dataclass(frozen=True)
class Page:
    path: Path
    blocks: tuple[Block, ...]
    prose: str  # the page without its fenced blocks

    @property
    def code_spans(self) -> list[str]:
        """Inline code, with its whitespace (line breaks included) made single spaces."""
        return [
            " ".join(match.group(2).split()) for match in CODE_SPAN.finditer(self.prose) if "\n\n" not in match.group(2)
        ]


def read_page(path: Path) -> Page:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        opening = OPENING_FENCE.match(lines[index])
        if not opening:
            prose.append(lines[index])
            index += 1
            continue
        fence, language = opening.group(1), opening.group(2).lower()
        before = [line.strip() for line in lines[:index] if line.strip()]
        body: list[str] = []
        index += 1
        while index < len(lines) and not re.fullmatch(rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", lines[index]):
            body.append(lines[index])
            index += 1
        start = index - len(body)
        blocks.append(Block(path, start, language, "\n".join(body) + "\n", bool(before) and before[-1] == FRAGMENT))
        prose.append("")
        index += 1
    return Page(path, tuple(blocks), "\n".join(prose))


PAGE_TEXTS = {path: read_page(path) for path in PAGES}


def python_blocks() -> Iterator[tuple[Block, Block | None]]:
    """Each python block, with the last complete tasks file above it on its page."""
    for page in PAGE_TEXTS.values():
        tasks_file: Block | None = None
        for block in page.blocks:
            if block.language not in PYTHON:
                continue
            yield block, tasks_file
            if not block.fragment and creates_orchestrator(block):
                tasks_file = block


def creates_orchestrator(block: Block) -> bool:
    """Whether the block is a complete tasks file (a syntax error is reported by the test)."""
    try:
        tree = ast.parse(block.text)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Call) and called_name(node) == "Orchestrator" for node in ast.walk(tree))


def called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


PYTHON_BLOCKS = list(python_blocks())


def block_id(item: tuple[Block, Block | None]) -> str:
    return item[0].where


# --- python blocks ---------------------------------------------------------------------------------


def write_tasks_file(block: Block, folder: Path) -> Path:
    """The block as folder/tasks.py, with a small script for each relative script path it names."""
    folder.mkdir(parents=True, exist_ok=True)
    for node in ast.walk(ast.parse(block.text)):
        if isinstance(node, ast.Call) and called_name(node) in ("add_script", "add_repeat") and node.args:
            first = node.args[0]
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and not first.value.startswith(("/", "~"))
            ):
                script = folder / first.value
                script.parent.mkdir(parents=True, exist_ok=True)
                script.write_text(SCRIPT)
    path = folder / "tasks.py"
    path.write_text(block.text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("block", "tasks_file"), PYTHON_BLOCKS, ids=[block_id(item) for item in PYTHON_BLOCKS])
def test_python_examples_run(
    block: Block, tasks_file: Block | None, tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = ast.parse(block.text, filename=block.where)  # a fragment must at least be Python
    problems = api_call_problems(tree)
    assert not problems, f"{block.where}: " + "; ".join(problems)
    if block.fragment:
        return
    if creates_orchestrator(block):
        compiled = compile_file(write_tasks_file(block, tmp_path / "project"), capture_environment(state_home))
        assert compiled, f"{block.where}: the tasks file compiles to nothing"
        return
    assert tasks_file is not None, (
        f"{block.where}: a library snippet runs in the folder of a tasks file shown above it on the same"
        f" page; show one, or mark the block with {FRAGMENT}"
    )
    folder = write_tasks_file(tasks_file, tmp_path / "project").parent
    monkeypatch.chdir(folder)
    exec(compile(block.text, block.where, "exec"), {"__name__": "__docs__"})


# What the examples may call by name: the API's functions and methods.
NAMED_CALLS: dict[str, Callable[..., Any]] = {
    "Orchestrator": orchestration.Orchestrator,
    "template": orchestration.template,
    "secret": orchestration.secret,
}
METHODS: dict[str, Callable[..., Any]] = {
    "add_task": DefinedOrchestrator.add_task,
    "execute_tasks": api.Orchestrator.execute_tasks,
    "add_script": Task.add_script,
    "add_repeat": Task.add_repeat,
    "add_skip": Task.add_skip,
}


def api_call_problems(tree: ast.AST) -> list[str]:
    """Calls and imports of the API that name something missing or pass arguments it does not take."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "orchestration":
            imported = importlib.import_module(node.module or "")
            problems += [
                f"{node.module} has no {alias.name}" for alias in node.names if not hasattr(imported, alias.name)
            ]
        if not isinstance(node, ast.Call):
            continue
        text = ast.unparse(node.func)
        function: Any = None
        method = False
        if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            owner, name = node.func.value.id, node.func.attr
            if owner in ("orchestration", "skips", "notify"):
                namespace: Any = {"orchestration": orchestration, "skips": skips, "notify": notify}[owner]
                if name not in getattr(namespace, "__all__", ()):
                    problems.append(f"{text}: there is no {owner}.{name}")
                    continue
                function = getattr(namespace, name)
        if function is None and isinstance(node.func, ast.Name) and node.func.id in NAMED_CALLS:
            function = NAMED_CALLS[node.func.id]
        if function is None and isinstance(node.func, ast.Attribute) and node.func.attr in METHODS:
            function, method = METHODS[node.func.attr], True
        if function is None or not callable(function) or inspect.ismodule(function):
            continue
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
            continue
        arguments = [None] * (len(node.args) + method)
        try:
            inspect.signature(function).bind(*arguments, **{kw.arg: None for kw in node.keywords if kw.arg})
        except TypeError as error:
            problems.append(f"{text}(...): {error}")
    return problems


# --- the command line ------------------------------------------------------------------------------


def option_names(command: click.Command) -> set[str]:
    names = {"-h", "--help"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def options_in(words: list[str]) -> list[str]:
    """The options among the words of a command line or of a usage text."""
    found = []
    for word in words:
        word = word.strip("[](){}|,.;\\").split("=", 1)[0]
        if OPTION.fullmatch(word):
            found.append(word)
    return found


def words_of(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # usage text with an odd quote
        return text.split()


def command_lines(page: Page) -> Iterator[tuple[str, str]]:
    """(where, the text after `orchestration`) of every command line the page names."""
    for span in page.code_spans:
        match = COMMAND_LINE.match(span.removeprefix("$ "))
        if match:
            yield relative(page.path), match.group(1)
    for block in page.blocks:
        if block.language in PYTHON:
            continue
        for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
            line = line.strip().removeprefix("$ ")
            if not line or line.startswith("#"):
                continue
            line = re.sub(r"\s+#.*$", "", line).split("`")[0]
            pieces = re.split(r"&&|\|\||;|\|", line) if block.language in SHELL else [line]
            for piece in pieces:
                match = COMMAND_LINE.search(piece)
                if match:
                    yield f"{relative(page.path)}:{number}", match.group(1)


def all_commands() -> dict[str, click.Command]:
    """Every command by its name after `orchestration`: a group's commands as 'GROUP COMMAND'."""
    found: dict[str, click.Command] = {}
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            found.update({f"{name} {sub}": subcommand for sub, subcommand in command.commands.items()})
        else:
            found[name] = command
    return found


COMMANDS = all_commands()


def command_line_problems(where: str, rest: str) -> list[str]:
    words = words_of(rest)
    if not words:
        return []
    first = words[0]
    if first.startswith("-"):
        command: click.Command = main
        shown = "orchestration"
        options = options_in(words)
    elif COMMAND_NAME.fullmatch(first):
        if first not in main.commands:
            return [f"{where}: `orchestration {first}`: there is no such command ({', '.join(sorted(main.commands))})"]
        command, shown, options = main.commands[first], f"orchestration {first}", options_in(words[1:])
        if isinstance(command, click.Group) and len(words) > 1 and words[1] in command.commands:
            command, shown = command.commands[words[1]], f"{shown} {words[1]}"
            options = options_in(words[2:])
    else:
        return []  # not a command: `orchestration NAMESPACE/TASK:` at the start of a log line
    known = option_names(command)
    return [f"{where}: `{shown}` has no option {option}" for option in options if option not in known]


@pytest.mark.parametrize("page", PAGES, ids=relative)
def test_commands_and_options_named_exist(page: Path) -> None:
    problems = [
        problem for where, rest in command_lines(PAGE_TEXTS[page]) for problem in command_line_problems(where, rest)
    ]
    assert not problems, "\n".join(problems)


def command_sections() -> dict[str, str]:
    """The commands page's section of each command, by command name."""
    text = COMMANDS_PAGE.read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    headings = list(re.finditer(r"^## .*$", text, re.MULTILINE))
    for position, heading in enumerate(headings):
        match = COMMAND_SECTION.match(heading.group(0))
        if match:
            end = headings[position + 1].start() if position + 1 < len(headings) else len(text)
            sections[match.group(1)] = text[heading.end() : end]
    return sections


def test_every_command_has_help_and_is_documented_with_each_option() -> None:
    sections = command_sections()
    problems = []
    for name, command in sorted(COMMANDS.items()):
        if not (command.help or "").strip():
            problems.append(f"`orchestration {name}` has no help text")
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip():
                problems.append(f"`orchestration {name}`: option {param.opts[0]} has no help text")
        if name not in sections:
            problems.append(f"{relative(COMMANDS_PAGE)} has no section '## `orchestration {name}`'")
            continue
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                names = param.opts + param.secondary_opts
                if not any(re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", sections[name]) for opt in names):
                    problems.append(
                        f"{relative(COMMANDS_PAGE)}: the section of `orchestration {name}` does not name {names[0]}"
                    )
    for name in sorted(set(sections) - set(COMMANDS)):
        problems.append(f"{relative(COMMANDS_PAGE)} documents `orchestration {name}`, which is not a command")
    assert not problems, "\n".join(problems)


def test_options_named_in_a_command_section_are_that_commands() -> None:
    problems = []
    for name, section in command_sections().items():
        if name not in COMMANDS:
            continue
        known = option_names(COMMANDS[name])
        section_page = Page(COMMANDS_PAGE, (), section)
        for span in section_page.code_spans:
            words = span.split()
            if words and OPTION.fullmatch(words[0]):
                problems += [
                    f"{relative(COMMANDS_PAGE)}, `orchestration {name}`: `{span}`: no such option"
                    for option in options_in(words[:1])
                    if option not in known
                ]
    assert not problems, "\n".join(problems)


# --- the API reference names every argument ---------------------------------------------------------


def parameters_of(function: Callable[..., Any]) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


def unnamed(page: Path, names: list[str]) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return [name for name in names if not re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text)]


def test_the_tasks_file_page_names_every_argument() -> None:
    missing = {
        "Orchestrator": unnamed(DOCS / "tasks-file.md", parameters_of(DefinedOrchestrator.__init__)),
        **{name: unnamed(DOCS / "tasks-file.md", [name, *parameters_of(method)]) for name, method in METHODS.items()},
    }
    assert not {name: names for name, names in missing.items() if names}


def test_the_library_page_names_every_call_and_argument() -> None:
    calls = [name for name in api.__all__ if name != "Orchestrator"]
    missing = {name: unnamed(DOCS / "library.md", [name, *parameters_of(getattr(api, name))]) for name in calls}
    assert not {name: names for name, names in missing.items() if names}


def test_the_skips_page_names_every_condition() -> None:
    text = (DOCS / "skips.md").read_text(encoding="utf-8")
    assert [name for name in skips.__all__ if name != "Condition" and f"skips.{name}(" not in text] == []


def test_the_parameters_page_names_everything_a_template_can_use() -> None:
    names = [*TEMPLATE_VARIABLES, *TEMPLATE_FUNCTIONS, *TEMPLATE_FILTERS]
    assert unnamed(DOCS / "parameters.md", names) == []
