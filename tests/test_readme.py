"""The commands of the README and of the docs do what they say. Every ``cli.py fit`` command in a
bash block is parsed and planned as the CLI would (every setting and config it names must exist,
every panel must be buildable); one said to run "one point" plans exactly one point, "one panel"
one panel, "N points" N points; a README command that runs IMP says how long it takes. Every
script and file a command names exists and takes the flags given to it, every relative link
leads to a file and heading that exist, a module a page writes out (a Python block headed
``# NAME.py``) is the one its commands use, and the README's two top commands are the ones
``.ci/run`` and the quickstart config stand for."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_app.cli import SweepCLI

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
TIME = re.compile(r"\d[\d.,–-]*\s*(s|seconds?|min|minutes?|hours?)\b")
FILE_WRITERS = ("np.save", "np.savez", "torch.save")


def bash_lines(page: Path) -> list[tuple[str, str]]:
    """Each command line of the page's bash blocks (continuations joined) with its comment: the
    line's own trailing comment and the comment line just above it."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
        above = ""
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("#") or not line:
                above = line
                continue
            command, _, trailing = line.partition("  #")
            found.append((command, f"{trailing} {above}"))
            above = ""
    return found


def simple_commands(command: str) -> list[list[str]]:
    """The command's simple commands, split at &&, ; and |, with $VAR read as a placeholder."""
    tokens = shlex.split(re.sub(r"\$\{?\w+\}?", "HOST", command))
    parts, current = [], []
    for token in tokens:
        if token in ("&&", ";", "|", "||", "&"):
            parts.append(current)
            current = []
        else:
            current.append(token)
    return [p for p in parts + [current] if p]


def commands(pages=PAGES) -> list[tuple[Path, list[str], str]]:
    return [
        (page, tokens, comment)
        for page in pages
        for line, comment in bash_lines(page)
        for tokens in simple_commands(line)
    ]


def fit_args(tokens: list[str]) -> list[str] | None:
    """What follows ``cli.py fit`` in a command, or None for a command that is not one."""
    for i, token in enumerate(tokens[:-1]):
        if token.endswith("cli.py") and tokens[i + 1] == "fit":
            return tokens[i + 2 :]
    return None


def fit_cases() -> list:
    cases = [(page, fit_args(tokens), comment) for page, tokens, comment in commands()]
    return [
        pytest.param(page, args, comment, id=f"{page.relative_to(ROOT)}:{' '.join(args)[:60]}")
        for page, args, comment in cases
        if args is not None
    ]


@pytest.fixture
def in_scratch(tmp_path, monkeypatch):
    """A working folder where the configs are where the commands name them and where the files the
    page's one-line Python writers make (``np.savez('my.npz', ...)``) are written."""
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def make_files(page: Path) -> None:
    """The files a page's commands need: its Python blocks that start with ``# NAME.py`` (modules
    of its own, importable from the working folder), and what its one-line writers write."""
    for name, source in re.findall(r"```python\n# (\w+\.py)\n(.*?)```", page.read_text(), re.S):
        Path(name).write_text(source)
    for _, tokens, _ in commands([page]):
        if tokens[-2:-1] == ["-c"] and any(w in tokens[-1] for w in FILE_WRITERS):
            subprocess.run([sys.executable, "-c", tokens[-1]], check=True, timeout=60)


@pytest.mark.parametrize("page, args, comment", fit_cases())
def test_fit_command_plans_what_it_says(in_scratch, page, args, comment):
    make_files(page)
    if "--help" in args:
        with pytest.raises(SystemExit) as done:
            SweepCLI(args)
        assert done.value.code == 0
        return
    plan = SweepCLI(args).plan
    assert not plan.unavailable, [reason for _, reason in plan.unavailable]
    if re.search(r"\bone point\b", comment, re.I):
        assert len(plan.points) == 1, comment
    if re.search(r"\bone panel\b", comment, re.I):
        assert len(plan.available) == 1, comment
    for count in re.findall(r"\b(\d+) points\b", comment):
        assert len(plan.points) == int(count), comment
    runs = "--sweep.dry_run" not in args  # a dry run runs nothing
    if page == README and runs and any(panel.method == "imp" for panel in plan.available):
        assert TIME.search(comment), f"runs IMP without saying how long: {' '.join(args)}"


def script_of(tokens: list[str]) -> tuple[Path, list[str]] | None:
    """The project script a command runs (under benchmarks/ or examples/) and its arguments."""
    for i, token in enumerate(tokens):
        if re.match(r"(benchmarks|examples)/\w+\.(py|sh)$", token):
            return ROOT / token, tokens[i + 1 :]
    return None


def test_every_script_exists_and_takes_its_flags():
    checked = 0
    for page, tokens, _ in commands():
        found = script_of(tokens)
        if found is None:
            continue
        script, args = found
        assert script.is_file(), f"{page.name}: {script} does not exist"
        if script.suffix == ".py":
            args = args[: args.index("--")] if "--" in args else args  # after --: cli.py's flags
            source = script.read_text()
            for flag in (a for a in args if a.startswith("--")):
                assert f'"{flag}"' in source, f"{page.name}: {script.name} takes no {flag}"
        checked += 1
    assert checked >= 10


def test_every_named_file_exists():
    for page, tokens, _ in commands():
        for before, token in zip(["", *tokens[:-1]], tokens, strict=True):
            if before not in ("--out", "--trainer.default_root_dir") and re.match(
                r"(configs|benchmarks|examples|requirements|docs)/[\w./-]+$", token
            ):
                assert (ROOT / token).exists(), f"{page.name} names {token}, which does not exist"


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_leads_somewhere():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"https?://", target):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            assert file.exists(), f"{page.name} links to {target}, which does not exist"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", file.read_text(), re.M)
                assert anchor in {slug(h) for h in headings}, (
                    f"{page.name}: no heading #{anchor} in {file.name}"
                )


def test_the_two_top_commands_are_the_main_job_and_ci():
    first_block = bash_lines(README)[:2]
    (main_job, _), (tests, _) = first_block
    assert main_job == (
        "python3 -m venv .venv && .venv/bin/pip install -e . && "
        ".venv/bin/python cli.py fit --config configs/quickstart.yaml"
    )
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith(tests)
    (count,) = re.findall(r"its (\d+) points", README.read_text())
    plan = SweepCLI(fit_args(simple_commands(main_job)[2])).plan
    assert len(plan.points) == int(count)


def test_no_section_is_longer_than_a_screen():
    sections = re.split(r"^## ", README.read_text(), flags=re.M)
    assert len(README.read_text().splitlines()) <= 220
    for section in sections[1:]:
        assert len(section.splitlines()) <= 42, section.splitlines()[0]
