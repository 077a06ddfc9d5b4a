"""Render deploy/helm/whippet/ as ``helm template`` would, for the template language it uses.

Debian ships no helm, so the chart is rendered here (and then validated like the
kustomize output). Supported, with Go template semantics: ``{{ }}`` actions with
``{{-``/``-}}`` whitespace trimming, ``{{/* comments */}}``, ``define``/``include``,
``if``/``else``/``end``, pipelines, parenthesised calls, string and integer
literals, ``.Values``/``.Release``/``.Chart`` paths, and the functions ``quote``,
``toYaml``, ``nindent``, ``indent``, ``default``, ``int``, ``add``, ``div``,
``ge``, ``eq``, ``not`` and ``fail`` (Sprig's meaning). Anything else raises
:class:`Unsupported`, so a template using a feature this does not implement
fails the test instead of rendering wrongly.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CHART_DIR", "ChartFailed", "Unsupported", "render_chart"]

CHART_DIR = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "whippet"
_ACTION = re.compile(r"{{(-?)\s*(.*?)\s*(-?)}}", re.DOTALL)


class Unsupported(AssertionError):
    """The template uses something this renderer does not implement."""


class ChartFailed(Exception):
    """The chart's own ``fail`` was called (a value the chart refuses)."""


@dataclass
class _Node:
    kind: str  # text | action | if | define
    value: str = ""
    body: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


def _lex(source: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", expr) tokens with the trim markers applied."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(source):
        text = source[pos : m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        tokens.append(("text", text))
        expr = m.group(2)
        if not (expr.startswith("/*") and expr.endswith("*/")):
            tokens.append(("action", expr))
        trim_next = bool(m.group(3))
        pos = m.end()
    tail = source[pos:]
    tokens.append(("text", tail.lstrip() if trim_next else tail))
    return tokens


def _parse(tokens: list[tuple[str, str]], i: int = 0, stop: tuple[str, ...] = ()) -> tuple[list[_Node], int, str]:
    nodes: list[_Node] = []
    while i < len(tokens):
        kind, value = tokens[i]
        i += 1
        if kind == "text":
            nodes.append(_Node("text", value))
            continue
        word = value.split(None, 1)[0] if value else ""
        if word in stop:
            return nodes, i, word
        if word == "if":
            body, i, ended = _parse(tokens, i, ("else", "end"))
            orelse: list[_Node] = []
            if ended == "else":
                orelse, i, _ = _parse(tokens, i, ("end",))
            nodes.append(_Node("if", value[2:].strip(), body, orelse))
        elif word == "define":
            body, i, _ = _parse(tokens, i, ("end",))
            nodes.append(_Node("define", shlex.split(value)[1], body))
        elif word in ("range", "with", "template", "block", "else", "end"):
            raise Unsupported(f"{{{{ {value} }}}} is not implemented by helm_render")
        else:
            nodes.append(_Node("action", value))
    if stop:
        raise Unsupported(f"missing {{{{ end }}}} (expected one of {stop})")
    return nodes, i, ""


def _words(expr: str) -> list[Any]:
    """Split an expression into words; a parenthesised group becomes a nested list."""
    out: list[Any] = []
    stack = [out]
    for tok in re.findall(r'"(?:\\.|[^"\\])*"|\(|\)|\||[^\s()|]+', expr):
        if tok == "(":
            group: list[Any] = []
            stack[-1].append(group)
            stack.append(group)
        elif tok == ")":
            stack.pop()
        else:
            stack[-1].append(tok)
    return out


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")


class _Renderer:
    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context
        self.defines: dict[str, list[_Node]] = {}

    def render(self, nodes: list[_Node], dot: Any) -> str:
        out = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.value)
            elif node.kind == "define":
                self.defines[node.value] = node.body
            elif node.kind == "if":
                branch = node.body if self._truthy(self.eval(node.value, dot)) else node.orelse
                out.append(self.render(branch, dot))
            else:
                value = self.eval(node.value, dot)
                out.append("" if value is None else str(value).lower() if isinstance(value, bool) else str(value))
        return "".join(out)

    @staticmethod
    def _truthy(value: Any) -> bool:
        return bool(value) and value != 0

    def eval(self, expr: str, dot: Any) -> Any:
        return self._pipeline(_words(expr), dot)

    def _pipeline(self, words: list[Any], dot: Any) -> Any:
        stages: list[list[Any]] = [[]]
        for w in words:
            if w == "|":
                stages.append([])
            else:
                stages[-1].append(w)
        value = self._command(stages[0], dot, None, piped=False)
        for stage in stages[1:]:
            value = self._command(stage, dot, value, piped=True)
        return value

    def _operand(self, word: Any, dot: Any) -> Any:
        if isinstance(word, list):
            return self._pipeline(word, dot)
        if word.startswith('"'):
            return word[1:-1].encode().decode("unicode_escape")
        if re.fullmatch(r"-?\d+", word):
            return int(word)
        if word in ("true", "false"):
            return word == "true"
        if word == ".":
            return dot
        if word.startswith(".") or word.startswith("$."):
            value = self.context if word.startswith("$") else dot
            for part in word.lstrip("$").strip(".").split("."):
                if not isinstance(value, dict) or part not in value:
                    return None  # a missing key renders empty, as in helm
                value = value[part]
            return value
        raise Unsupported(f"operand {word!r}")

    def _command(self, words: list[Any], dot: Any, piped_value: Any, *, piped: bool) -> Any:
        return _call(self, words, dot, piped_value, piped)


def _call(self: _Renderer, words: list[Any], dot: Any, piped_value: Any, piped: bool) -> Any:
    """One command of a pipeline: an operand alone, or a function with its arguments
    (a piped value comes last, as in Go templates)."""
    head = words[0]
    if len(words) == 1 and not piped and (isinstance(head, list) or head[0] in '".$-0123456789' or head in ("true", "false")):
        return self._operand(head, dot)
    if not isinstance(head, str) or not re.fullmatch(r"[a-zA-Z]+", head):
        raise Unsupported(f"command {head!r}")
    args = [self._operand(w, dot) for w in words[1:]] + ([piped_value] if piped else [])
    fn = head
    if fn == "include":
        name, arg = args
        return self.render(self.defines[name], arg)
    if fn == "quote":
        return '"' + ("" if args[0] is None else str(args[0])).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if fn == "toYaml":
        return _to_yaml(args[0])
    if fn in ("nindent", "indent"):
        width, text = args
        pad = " " * int(width)
        body = "\n".join(pad + line if line else line for line in str(text).split("\n"))
        return ("\n" if fn == "nindent" else "") + body
    if fn == "default":
        fallback, value = args
        return value if self._truthy(value) else fallback
    if fn == "int":
        return int(args[0])
    if fn == "add":
        return sum(int(a) for a in args)
    if fn == "div":
        return int(args[0]) // int(args[1])
    if fn == "ge":
        return args[0] >= args[1]
    if fn == "eq":
        return args[0] == args[1]
    if fn == "not":
        return not self._truthy(args[0])
    if fn == "fail":
        raise ChartFailed(str(args[0]))
    raise Unsupported(f"function {fn!r} is not implemented by helm_render")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def render_chart(
    values: dict[str, Any] | None = None, *, release: str = "whippet", namespace: str = "streaming",
    chart_dir: Path = CHART_DIR,
) -> list[dict[str, Any]]:
    """The objects ``helm template RELEASE CHART --namespace NS -f values`` prints."""
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    merged = _merge(yaml.safe_load((chart_dir / "values.yaml").read_text()), values or {})
    context = {
        "Values": merged,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
    }
    r = _Renderer(context)
    templates = sorted((chart_dir / "templates").iterdir())
    parsed = {p.name: _parse(_lex(p.read_text()))[0] for p in templates}
    for name, nodes in parsed.items():  # defines from every file first, as helm does
        if name.startswith("_"):
            r.render(nodes, context)
    objects: list[dict[str, Any]] = []
    for name, nodes in parsed.items():
        if name.startswith("_") or not name.endswith(".yaml"):
            continue
        text = r.render(nodes, context)
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects
