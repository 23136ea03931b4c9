"""Config files read within limits: a ``--config`` file is a regular file of at most
``MAX_CONFIG_BYTES``, and every YAML the parser reads (files and values) expands to at most
``MAX_VALUES`` values and nests at most ``MAX_DEPTH`` levels. The YAML is checked by its parse
events, before anything is built from it: a file of nested aliases ("billion laughs") is refused
before it is expanded, whatever keys it is under. Real configs use no aliases and a few levels.
"""

from pathlib import Path

import yaml

from lightning_app.files.bounded_read import UnreadableFile, read_bounded
from lightning_app.plan.errors import SettingsError

MAX_CONFIG_BYTES = 1 << 20
MAX_VALUES = 100_000
MAX_DEPTH = 50


def check_yaml_limits(text: str, source: str) -> None:
    """SettingsError naming ``source`` if ``text``, with its aliases expanded, would hold more
    than ``MAX_VALUES`` values, or nests deeper than ``MAX_DEPTH``; counted on the parse events,
    without expanding anything. YAML syntax errors are left to the parser, which names them."""
    sizes: dict[str, int] = {}  # anchor → how many values its node expands to
    open_nodes: list[list] = []  # per open collection: [values so far, its anchor]

    def add(size: int, anchor: str | None) -> None:
        if anchor is not None:
            sizes[anchor] = size
        if open_nodes:
            open_nodes[-1][0] += size
        if size > MAX_VALUES or (open_nodes and open_nodes[-1][0] > MAX_VALUES):
            raise SettingsError(
                f"{source}: its YAML aliases (*name) expand to more than {MAX_VALUES} values, far "
                "more than a config needs: refused before expanding them"
            )

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                open_nodes.append([1, event.anchor])
                if len(open_nodes) > MAX_DEPTH:
                    raise SettingsError(
                        f"{source} nests more than {MAX_DEPTH} levels deep, far more than a config "
                        "needs: refused"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                add(*open_nodes.pop())
            elif isinstance(event, yaml.ScalarEvent):
                add(1, event.anchor)
            elif isinstance(event, yaml.AliasEvent):
                add(sizes.get(event.anchor, 1), None)
    except yaml.YAMLError:
        return


def check_config_file(path: str) -> None:
    """SettingsError naming ``--config path`` if it is not a regular file within the size limit,
    is empty, or exceeds the YAML limits. A path that does not exist is left to the parser."""
    if not Path(path).exists() and not Path(path).is_symlink():
        return
    try:
        data = read_bounded(Path(path), MAX_CONFIG_BYTES)
    except UnreadableFile as exc:
        raise SettingsError(
            f"--config {exc}: give a YAML config file (e.g. configs/quickstart.yaml)"
        ) from None
    if not data.strip():
        raise SettingsError(f"--config {path} is empty: give a YAML config (e.g. configs/quickstart.yaml)")
    check_yaml_limits(data.decode("utf-8", errors="replace"), f"--config {path}")


def config_paths(args: list[str]) -> list[str]:
    """The files ``--config FILE`` or ``--config=FILE`` name in ``args``."""
    paths = []
    for i, arg in enumerate(args):
        if arg.startswith("--config="):
            paths.append(arg.removeprefix("--config="))
        elif arg == "--config" and i + 1 < len(args):
            paths.append(args[i + 1])
    return paths


def guard_yaml_loader() -> None:
    """Makes the parser's YAML loader check the limits on every YAML it reads (a value given on
    the command line included) before loading it."""
    from jsonargparse import set_loader
    from jsonargparse._loaders_dumpers import loaders, yaml_load

    if getattr(loaders.get("yaml"), "guarded", False):
        return

    def guarded(stream):
        if isinstance(stream, str):
            check_yaml_limits(stream, "a YAML value")
        return yaml_load(stream)

    guarded.guarded = True
    set_loader("yaml", guarded, exceptions=(yaml.YAMLError,))
