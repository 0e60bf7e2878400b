"""Policy files: candidate models and an ordered list of SQL rules, validated strictly.

A policy file is TOML. Rules are tried in order; the first whose `when` holds takes the request,
and requests no rule takes go to `default`. A target is a model of `[models]`, any model of the
price catalogue, or `logged` (keep the model the request was logged with). Every error names the
file, the line and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costlab.errors import BadInput
from costlab.prices import CATALOGUE_SINCE, Catalogue, PriceOverride
from costlab.routing.derived import TASK_TYPES

# The target that keeps the logged model (and its logged cost).
LOGGED = "logged"
# Rules of a policy are packed into one BIGINT bit mask per request.
MAX_RULES = 62
_PER_MILLION = Decimal(1_000_000)
_HINT = "see docs for route-replay policy files: name, default, [models.NAME], [[rules]]"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    """A candidate model: how to price it, its latency, its quality per task type."""

    price_as: str | None = None  # a catalogue name to price it with
    input: Decimal | None = Field(default=None, ge=0)  # USD per 1M tokens: overrides the catalogue
    output: Decimal | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, ge=0)
    # task type -> expected quality, on the scale of the outcomes (e.g. 1-10 judge scores)
    quality: dict[str, float] = Field(default_factory=dict)


class RuleEntry(_Strict):
    when: str
    route_to: str
    name: str | None = None


class SweepRange(_Strict):
    """`t = { from = 0, to = 1, steps = 50 }`: evenly spaced values of a rule's parameter."""

    start: float = Field(alias="from")
    to: float
    steps: int = Field(ge=2, le=1000)

    def values(self) -> tuple[float, ...]:
        step = (self.to - self.start) / (self.steps - 1)
        return tuple(round(self.start + n * step, 12) for n in range(self.steps))


class PolicyFile(_Strict):
    name: str | None = None
    default: str
    models: dict[str, ModelEntry] = Field(default_factory=dict)
    rules: list[RuleEntry] = Field(default_factory=list, max_length=MAX_RULES)
    sweep: dict[str, SweepRange] = Field(default_factory=dict, max_length=1)


@dataclass(frozen=True)
class Swept:
    """The one rule of a policy with a parameter: `SCORE >= {t}` (or `>`), and its values."""

    rule: int  # index into the policy's rules
    parameter: str
    score: str  # the SQL expression compared with the parameter
    strict: bool  # `>` rather than `>=`
    values: tuple[float, ...] | None  # from [sweep]; None: the command line gives them


@dataclass(frozen=True)
class Candidate:
    """A model a policy can route to, resolved against the price catalogue."""

    name: str  # the catalogue name when the catalogue knows it, else as written
    price_as: str  # the catalogue name its prices come from (== name for an override)
    override: PriceOverride | None = None
    latency_ms: float | None = None
    quality: Mapping[str, float] = field(default_factory=dict)

    def profile(self, task_type: str) -> float | None:
        """The declared quality for a task type; `general` stands in for a missing one."""
        return self.quality.get(task_type, self.quality.get("general"))


@dataclass(frozen=True)
class Rule:
    index: int
    name: str
    when: str
    route_to: str  # a candidate's name, or LOGGED
    where: str  # "file, line N" of the rule's `when`


@dataclass(frozen=True)
class Policy:
    """A validated policy: rules in order, the default target, its candidate models."""

    name: str
    path: Path
    rules: tuple[Rule, ...]
    default: str
    models: Mapping[str, Candidate]
    swept: Swept | None = None

    def targets(self) -> list[str]:
        """Each rule's target then the default's (the default is the last 'rule')."""
        return [r.route_to for r in self.rules] + [self.default]


def load(path: Path, catalogue: Catalogue) -> Policy:
    """The policy in a TOML file; BadInput naming the file, line and field of any mistake."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BadInput(f"--policy {path}: cannot read: {err.strerror}") from None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: not valid TOML: {err}", _HINT) from None
    lines = text.splitlines()
    try:
        parsed = PolicyFile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        dotted = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc)
        raise BadInput(
            f"{_where(path, lines, loc)}: {dotted.replace('.[', '[')}: {first['msg']}", _HINT
        ) from None
    models = {
        name: _candidate(path, lines, name, entry, catalogue)
        for name, entry in parsed.models.items()
    }
    by_name = {c.name: c for c in models.values()} | models

    def target(name: str, loc: tuple[str | int, ...]) -> str:
        if name == LOGGED:
            return LOGGED
        if name in by_name:
            return by_name[name].name
        resolved = catalogue.resolve(name).model
        if resolved is None:
            raise BadInput(
                f"{_where(path, lines, loc)}: {_dotted(loc)}: routes to unknown model '{name}': "
                "not in the price catalogue",
                f'declare it under [models."{name}"] with price_as = "CATALOGUE NAME" or '
                "input/output prices per 1M tokens; `costlab prices list --search` finds names",
            )
        by_name[resolved] = by_name.get(resolved) or Candidate(resolved, resolved)
        return resolved

    rules = tuple(
        Rule(
            i,
            rule.name or f"rule {i + 1}",
            rule.when,
            target(rule.route_to, ("rules", i, "route_to")),
            _where(path, lines, ("rules", i, "when")),
        )
        for i, rule in enumerate(parsed.rules)
    )
    default = target(parsed.default, ("default",))
    swept = _swept(path, lines, parsed)
    used = {t for t in [*(r.route_to for r in rules), default] if t != LOGGED}
    candidates = {c.name: c for c in by_name.values() if c.name in used or c in models.values()}
    return Policy(parsed.name or path.stem, path, rules, default, candidates, swept)


_PARAMETER = re.compile(r"\{([A-Za-z_]\w*)\}")
_SWEPT_FORM = r"^\s*(?P<score>.+?)\s*(?P<op>>=|>)\s*\{{{name}\}}\s*$"
_SWEEP_HINT = 'e.g. when = "complexity >= {t}" with [sweep] t = { from = 0, to = 1, steps = 50 }'


def _swept(path: Path, lines: Sequence[str], parsed: PolicyFile) -> Swept | None:
    """The rule with a `{parameter}`, checked: one such rule, of the form `SCORE >= {t}`."""
    found = [(i, r) for i, r in enumerate(parsed.rules) if _PARAMETER.search(r.when)]
    if not found:
        if parsed.sweep:
            name = next(iter(parsed.sweep))
            raise BadInput(
                f"{_where(path, lines, ('sweep',))}: sweep.{name}: no rule uses {{{name}}}",
                _SWEEP_HINT,
            )
        return None
    if len(found) > 1:
        loc: tuple[str | int, ...] = ("rules", found[1][0], "when")
        raise BadInput(
            f"{_where(path, lines, loc)}: {_dotted(loc)}: only one rule may have a parameter",
            _SWEEP_HINT,
        )
    i, rule = found[0]
    loc = ("rules", i, "when")
    name = _PARAMETER.findall(rule.when)[0]
    form = re.match(_SWEPT_FORM.format(name=re.escape(name)), rule.when)
    if form is None or _PARAMETER.search(form["score"]):
        raise BadInput(
            f"{_where(path, lines, loc)}: {_dotted(loc)}: a rule with a parameter must read "
            f"`EXPRESSION >= {{{name}}}` (or >)",
            _SWEEP_HINT,
        )
    if parsed.sweep and name not in parsed.sweep:
        other = next(iter(parsed.sweep))
        raise BadInput(
            f"{_where(path, lines, ('sweep', other))}: sweep.{other}: the rule's parameter is "
            f"{{{name}}}",
            _SWEEP_HINT,
        )
    values = parsed.sweep[name].values() if name in parsed.sweep else None
    return Swept(i, name, form["score"], form["op"] == ">", values)


def _candidate(
    path: Path, lines: Sequence[str], name: str, entry: ModelEntry, catalogue: Catalogue
) -> Candidate:
    loc: tuple[str | int, ...] = ("models", name)
    unknown = sorted(set(entry.quality) - set(TASK_TYPES))
    if unknown:
        raise BadInput(
            f"{_where(path, lines, (*loc, 'quality'))}: models.{name}.quality: unknown task type "
            f"'{unknown[0]}'",
            f"task types: {', '.join(TASK_TYPES)}",
        )
    resolved = catalogue.resolve(name).model or name
    if (entry.input is None) != (entry.output is None):
        raise BadInput(
            f"{_where(path, lines, loc)}: models.{name}: give both input and output prices",
            "prices are USD per 1M tokens, e.g. input = 0.15, output = 0.60",
        )
    if entry.input is not None and entry.output is not None:
        override = PriceOverride(
            resolved, CATALOGUE_SINCE, entry.input / _PER_MILLION, entry.output / _PER_MILLION
        )
        return Candidate(resolved, resolved, override, entry.latency_ms, entry.quality)
    price_as = catalogue.resolve(entry.price_as).model if entry.price_as else resolved
    if price_as is None or catalogue.resolve(price_as).model is None:
        shown = entry.price_as or name
        raise BadInput(
            f"{_where(path, lines, (*loc, 'price_as') if entry.price_as else loc)}: "
            f"models.{name}: unknown model '{shown}': not in the price catalogue",
            "give price_as = a catalogue name, or input/output prices per 1M tokens",
        )
    return Candidate(resolved, price_as, None, entry.latency_ms, entry.quality)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def _where(path: Path, lines: Sequence[str], loc: tuple[str | int, ...]) -> str:
    line = line_of(lines, loc)
    return f"{path}, line {line}" if line else str(path)


def line_of(lines: Sequence[str], loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of a field in TOML text, following its path (best effort)."""
    start, end, found, previous = 0, len(lines), None, ""
    for part in loc:
        if isinstance(part, int):  # the part-th [[previous]] block
            headers = [n for n in range(len(lines)) if _header(lines[n]) == ["[", previous]]
            if part < len(headers):
                start = found = headers[part]
                end = _block_end(lines, start)
            continue
        key = re.compile(rf"^\s*[\"']?{re.escape(part)}[\"']?\s*=")
        hit = next((n for n in range(start, end) if key.match(lines[n])), None)
        if hit is None:
            hit = next((n for n in range(start, len(lines)) if part in _header(lines[n])), None)
            if hit is not None:
                end = _block_end(lines, hit)
        if hit is not None:
            start = found = hit
        previous = part
    return None if found is None else found + 1


def _header(line: str) -> list[str]:
    """The dotted names of a [table] or [[array]] header line ('[' first for an array)."""
    text = line.strip()
    if not text.startswith("["):
        return []
    array = text.startswith("[[")
    inner = text.strip("[]").split("]")[0]
    names = [n.strip().strip("\"'") for n in re.split(r"\.(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", inner)]
    return ["[", *names] if array else names


def _block_end(lines: Sequence[str], header: int) -> int:
    return next((n for n in range(header + 1, len(lines)) if _header(lines[n])), len(lines))
