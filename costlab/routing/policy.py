"""Policy files: candidate models and how requests are routed among them, validated strictly.

A policy file is TOML or YAML (the same fields either way: see `policy_file`), of one `kind`:
- `rules` (the default): rules are tried in order; the first whose `when` holds takes the
  request, and requests no rule takes go to `default`. A target is a model of `[models]`, any
  model of the price catalogue, or `logged` (keep the model the request was logged with).
- `cost_aware`: per request, the cheapest of `[models]` whose declared quality for the request's
  task type is at least `min_quality` (and whose `latency_ms` is at most `max_latency_ms`).
- `quality_aware`: the `cheap` model answers, a `validator` checks the answer, and failures are
  escalated to `strong`, at `escalation_rate` or as the outcomes say (`escalation = "outcomes"`).
Every error names the file, the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from costlab.errors import BadInput
from costlab.prices import CATALOGUE_SINCE, Catalogue, PriceOverride
from costlab.routing.derived import TASK_TYPES
from costlab.routing.policy_file import HINT, Source, dotted, read

# The target that keeps the logged model (and its logged cost).
LOGGED = "logged"
# Rules of a policy are packed into one BIGINT bit mask per request.
MAX_RULES = 62
_PER_MILLION = Decimal(1_000_000)


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
    kind: Literal["rules", "cost_aware", "quality_aware"] = "rules"
    default: str | None = None
    min_quality: float | None = Field(default=None, allow_inf_nan=False)  # cost_aware
    max_latency_ms: float | None = Field(default=None, ge=0)
    cheap: str | None = None  # quality_aware
    strong: str | None = None
    validator: str | None = None
    escalation_rate: Decimal | None = Field(default=None, ge=0, le=1)
    escalation: Literal["outcomes"] | None = None
    pass_score: float | None = Field(default=None, allow_inf_nan=False)
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
class CostAware:
    """Cheapest model whose declared quality for the task type is at least `min_quality`."""

    min_quality: float
    max_latency_ms: float | None
    order: tuple[str, ...]  # the candidates as declared


@dataclass(frozen=True)
class QualityAware:
    """Cheap model, a validator call, escalation to the strong model on failure."""

    cheap: str
    strong: str
    validator: str
    escalation_rate: Decimal | None  # None: from the outcomes, below pass_score
    pass_score: float | None


@dataclass(frozen=True)
class Policy:
    """A validated policy: rules in order, the default target, its candidate models."""

    name: str
    path: Path
    rules: tuple[Rule, ...]
    default: str
    models: Mapping[str, Candidate]
    swept: Swept | None = None
    router: CostAware | QualityAware | None = None  # None: kind = "rules"

    def targets(self) -> list[str]:
        """The model of each route: each rule's then the default's (the last 'rule')."""
        if isinstance(self.router, CostAware):
            return list(self.router.order)
        if isinstance(self.router, QualityAware):
            # passed validation, escalated, escalated at the expected rate (no outcome)
            return [self.router.cheap, self.router.strong, self.router.strong]
        return [r.route_to for r in self.rules] + [self.default]

    def route_names(self) -> list[str]:
        """A name per route, in the order of `targets`."""
        if isinstance(self.router, CostAware):
            return [f"cheapest qualified: {m}" for m in self.router.order]
        if isinstance(self.router, QualityAware):
            return ["passed validation", "escalated", "escalated at the expected rate"]
        return [r.name for r in self.rules] + ["default"]


def load(path: Path, catalogue: Catalogue) -> Policy:
    """The policy in a TOML or YAML file; BadInput naming the file, line and field of a mistake."""
    source = read(path)
    try:
        parsed = PolicyFile.model_validate(source.data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        raise BadInput(f"{source.at(loc)}: {dotted(loc)}: {first['msg']}", HINT) from None
    _check_kind(source, parsed)
    models = {
        name: _candidate(source, name, entry, catalogue) for name, entry in parsed.models.items()
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
                f"{source.at(loc)}: {dotted(loc)}: routes to unknown model '{name}': "
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
            source.at(("rules", i, "when")),
        )
        for i, rule in enumerate(parsed.rules)
    )
    name = parsed.name or path.stem
    if parsed.kind == "cost_aware":
        order = tuple(c.name for c in models.values())
        assert parsed.min_quality is not None  # _check_kind
        router = CostAware(parsed.min_quality, parsed.max_latency_ms, order)
        return Policy(name, path, (), order[0], models, None, router)
    if parsed.kind == "quality_aware":
        roles = {r: getattr(parsed, r) for r in ("cheap", "strong", "validator")}
        named = {r: target(m, (r,)) for r, m in roles.items()}
        if LOGGED in named.values():
            raise BadInput(f"{path}: a quality_aware policy names models, not `logged`", HINT)
        chosen = {c.name: c for c in by_name.values() if c.name in named.values()}
        qa = QualityAware(
            named["cheap"], named["strong"], named["validator"], parsed.escalation_rate,
            parsed.pass_score,
        )  # fmt: skip
        return Policy(name, path, (), named["cheap"], chosen, None, qa)
    assert parsed.default is not None  # _check_kind
    default = target(parsed.default, ("default",))
    swept = _swept(source, parsed)
    used = {t for t in [*(r.route_to for r in rules), default] if t != LOGGED}
    candidates = {c.name: c for c in by_name.values() if c.name in used or c in models.values()}
    return Policy(name, path, rules, default, candidates, swept)


# The fields each kind needs, and those it allows beside them and the common ones.
_COMMON = {"name", "kind", "models"}
_NEEDS = {
    "rules": {"default"},
    "cost_aware": {"min_quality"},
    "quality_aware": {"cheap", "strong", "validator"},
}
_ALLOWS = {
    "rules": {"rules", "sweep"},
    "cost_aware": {"max_latency_ms"},
    "quality_aware": {"escalation_rate", "escalation", "pass_score"},
}


def _check_kind(source: Source, parsed: PolicyFile) -> None:
    """The fields given are those of the policy's kind; cost_aware models declare quality."""
    path, data, kind = source.path, source.data, parsed.kind
    for key in data:
        if key not in _COMMON | _NEEDS[kind] | _ALLOWS[kind]:
            raise BadInput(
                f'{source.at((key,))}: {key}: not a field of a kind = "{kind}" policy',
                f"{kind} policies take: {', '.join(sorted(_NEEDS[kind] | _ALLOWS[kind]))}",
            )
    missing = sorted(_NEEDS[kind] - set(data))
    if missing:
        raise BadInput(f'{path}: {missing[0]}: Field required (kind = "{kind}")', HINT)
    if kind == "quality_aware":
        if (parsed.escalation_rate is None) == (parsed.escalation is None):
            raise BadInput(
                f"{path}: a quality_aware policy needs escalation_rate or escalation, not both",
                'e.g. escalation_rate = 0.3, or escalation = "outcomes" with pass_score = 7',
            )
        if (parsed.escalation is None) != (parsed.pass_score is None):
            field_ = "pass_score" if parsed.pass_score is not None else "escalation"
            raise BadInput(
                f"{source.at((field_,))}: {field_}: pass_score goes with "
                'escalation = "outcomes" (and only with it)',
                "an outcome below pass_score is a failed validation",
            )
    if kind == "cost_aware":
        if not 0 < len(parsed.models) <= MAX_RULES:  # one bit of the route mask per model
            raise BadInput(
                f"{path}: a cost_aware policy chooses among 1 to {MAX_RULES} [models]", HINT
            )
        for name, entry in parsed.models.items():
            if any(entry.quality.get(t, entry.quality.get("general")) is None for t in TASK_TYPES):
                raise BadInput(
                    f"{source.at(('models', name))}: models.{name}.quality: a "
                    "cost_aware candidate needs a quality for every task type",
                    "give `general`, which stands in for the task types not listed",
                )


_PARAMETER = re.compile(r"\{([A-Za-z_]\w*)\}")
_SWEPT_FORM = r"^\s*(?P<score>.+?)\s*(?P<op>>=|>)\s*\{{{name}\}}\s*$"
_SWEEP_HINT = 'e.g. when = "complexity >= {t}" with [sweep] t = { from = 0, to = 1, steps = 50 }'


def _swept(source: Source, parsed: PolicyFile) -> Swept | None:
    """The rule with a `{parameter}`, checked: one such rule, of the form `SCORE >= {t}`."""
    found = [(i, r) for i, r in enumerate(parsed.rules) if _PARAMETER.search(r.when)]
    if not found:
        if parsed.sweep:
            name = next(iter(parsed.sweep))
            raise BadInput(
                f"{source.at(('sweep',))}: sweep.{name}: no rule uses {{{name}}}",
                _SWEEP_HINT,
            )
        return None
    if len(found) > 1:
        loc: tuple[str | int, ...] = ("rules", found[1][0], "when")
        raise BadInput(
            f"{source.at(loc)}: {dotted(loc)}: only one rule may have a parameter",
            _SWEEP_HINT,
        )
    i, rule = found[0]
    loc = ("rules", i, "when")
    name = _PARAMETER.findall(rule.when)[0]
    form = re.match(_SWEPT_FORM.format(name=re.escape(name)), rule.when)
    if form is None or _PARAMETER.search(form["score"]):
        raise BadInput(
            f"{source.at(loc)}: {dotted(loc)}: a rule with a parameter must read "
            f"`EXPRESSION >= {{{name}}}` (or >)",
            _SWEEP_HINT,
        )
    if parsed.sweep and name not in parsed.sweep:
        other = next(iter(parsed.sweep))
        raise BadInput(
            f"{source.at(('sweep', other))}: sweep.{other}: the rule's parameter is {{{name}}}",
            _SWEEP_HINT,
        )
    values = parsed.sweep[name].values() if name in parsed.sweep else None
    return Swept(i, name, form["score"], form["op"] == ">", values)


def _candidate(source: Source, name: str, entry: ModelEntry, catalogue: Catalogue) -> Candidate:
    loc: tuple[str | int, ...] = ("models", name)
    unknown = sorted(set(entry.quality) - set(TASK_TYPES))
    if unknown:
        raise BadInput(
            f"{source.at((*loc, 'quality'))}: models.{name}.quality: unknown task type "
            f"'{unknown[0]}'",
            f"task types: {', '.join(TASK_TYPES)}",
        )
    resolved = catalogue.resolve(name).model or name
    if (entry.input is None) != (entry.output is None):
        raise BadInput(
            f"{source.at(loc)}: models.{name}: give both input and output prices",
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
            f"{source.at((*loc, 'price_as') if entry.price_as else loc)}: "
            f"models.{name}: unknown model '{shown}': not in the price catalogue",
            "give price_as = a catalogue name, or input/output prices per 1M tokens",
        )
    return Candidate(resolved, price_as, None, entry.latency_ms, entry.quality)
