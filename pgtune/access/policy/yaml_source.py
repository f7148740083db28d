"""YAML → plain Python data plus the file line of every mapping key and list item.

The loader differs from ``yaml.SafeLoader`` where YAML 1.1 would surprise a policy author:

- mapping keys are always the text as written: a role or table named ``on``, ``123`` or
  ``null`` is that name (identifiers are case-sensitive and never folded or converted);
- only ``true`` / ``false`` are booleans (``yes``, ``no``, ``on``, ``off`` stay strings);
- timestamps are not converted (``valid_until`` is parsed, with its own message, later);
- a key given twice in one mapping is a problem, not a silent "last one wins".
"""

import re
from collections.abc import Hashable
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pgtune.access.policy.problems import Problem

Path = tuple[str | int, ...]

_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"


try:  # libyaml parses about ten times faster; the constructor and resolvers stay Python's
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _PolicyLoader(_BaseLoader):
    problems: list[Problem]

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.problems = []

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, object]:
        self._check_duplicates(node)
        self.flatten_mapping(node)  # resolves "<<" merges; the node's own keys come last
        mapping: dict[Hashable, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "a key must be a plain name, not a list or mapping",
                    key_node.start_mark,
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping

    def _check_duplicates(self, node: MappingNode) -> None:
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                self.problems.append(
                    Problem(
                        line,
                        f"duplicate key {key_node.value!r} (first on line {first[key_node.value]})",
                    )
                )
            else:
                first[key_node.value] = line


# Copy SafeLoader's implicit resolvers without YAML 1.1 booleans and timestamps...
_PolicyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# ...and put back the two booleans YAML 1.2 has.
_PolicyLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def describe(path: Path) -> str:
    """Where in the document, for messages: ``access[2].tables[0]``.

    >>> describe(("roles", "app", "valid_until")), describe(("access", 2, "tables", 0))
    ('roles.app.valid_until', 'access[2].tables[0]')
    """
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass
class Lines:
    """The line of every key and list item, by path (``("access", 2, "tables", 0)``)."""

    by_path: dict[Path, int] = field(default_factory=dict)

    def at(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.by_path:
                return self.by_path[path]
            if not path:
                return None
            path = path[:-1]


def _record(node: Node, path: Path, lines: Lines, open_nodes: set[int]) -> None:
    if id(node) in open_nodes:  # a recursive alias (&a [*a]): nothing more to learn
        return
    open_nodes.add(id(node))
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                child = (*path, key_node.value)
                lines.by_path[child] = key_node.start_mark.line + 1
                _record(value_node, child, lines, open_nodes)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.by_path[child] = item.start_mark.line + 1
            _record(item, child, lines, open_nodes)
    open_nodes.discard(id(node))


@dataclass
class YamlDocument:
    data: object
    lines: Lines
    problems: list[Problem]


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character YAML does not allow (e.g. a control character): a position, no mark."""
    return Problem(text.count("\n", 0, exc.position) + 1, f"malformed YAML: {exc.reason}")


def read_yaml(text: str) -> YamlDocument:
    """Parse one YAML document. Malformed YAML gives ``data=None`` and one problem at the
    line where the parser gave up; duplicate keys are problems next to usable data."""
    try:
        loader = _PolicyLoader(text)
    except yaml.reader.ReaderError as exc:  # PyYAML's own reader checks the whole text first
        return YamlDocument(None, Lines(), [_reader_problem(text, exc)])
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.reader.ReaderError as exc:  # libyaml reports these while parsing
        return YamlDocument(None, Lines(), [_reader_problem(text, exc)])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return YamlDocument(
            None, Lines(), [Problem(mark.line + 1 if mark else None, f"malformed YAML: {what}")]
        )
    finally:
        loader.dispose()
    lines = Lines()
    if node is not None:
        lines.by_path[()] = node.start_mark.line + 1
        _record(node, (), lines, set())
    return YamlDocument(data, lines, loader.problems)
