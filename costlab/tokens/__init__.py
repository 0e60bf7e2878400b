"""Prompt-template token counts, gated against a committed baseline (`costlab tokens check`).

Light on purpose: it runs in CI with the base install, so it imports no numpy, torch or duckdb
at module level (the store is opened only to weight growth by logged traffic).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from costlab import encodings
from costlab.errors import BadInput, ConfigError
from costlab.prices import Catalogue, PriceOverride
from costlab.tokens import baseline, gate, templates
from costlab.tokens.gate import Counted, Row, Usage
from costlab.tokens.policy import Policy, Rule
from costlab.tokens.traffic import Basis


@dataclass(frozen=True)
class Options:
    """What to count and how to judge it."""

    patterns: tuple[str, ...]
    baseline: Path
    policy: Policy
    root: Path = field(default_factory=Path.cwd)
    fixtures: Path | None = None
    db: str | None = None  # weight growth by this store's logged traffic
    template_keys: tuple[str, ...] = ()  # metadata keys that name a call's template
    price_overrides: tuple[PriceOverride, ...] = ()
    allow_empty: bool = False  # a pattern may match no template


@dataclass(frozen=True)
class Report:
    """Every template's row, and where its traffic figures come from."""

    rows: tuple[Row, ...]
    baseline: Path
    basis: Basis | None = None
    replaced_unreadable: bool = False  # update: the old baseline could not be read

    def with_verdict(self, verdict: gate.Verdict) -> list[Row]:
        return [r for r in self.rows if r.verdict == verdict]

    def with_status(self, status: gate.Status) -> list[Row]:
        return [r for r in self.rows if r.status == status]


def check(options: Options) -> Report:
    """Count the templates and judge them against the baseline and the budgets."""
    before = baseline.read(options.baseline)
    found = _templates(options)
    prices = _Prices(options.price_overrides)
    counted = _count(found, options.policy, prices, known=before, traffic=options.db is not None)
    usage: dict[str, Usage] = {}
    basis = None
    if options.db is not None:
        md5s = {tid: e.md5 for tid, e in before.items() if e.md5}
        basis, usage = _usage(found, counted, md5s, options, prices)
    rows = gate.compare(counted, before, options.policy.warn_at, usage)
    return Report(tuple(rows), options.baseline, basis)


def update(options: Options) -> Report:
    """Write the baseline from the templates as they are now; the rows say what changed."""
    try:
        before, unreadable = baseline.read(options.baseline), False
    except BadInput:
        before, unreadable = {}, options.baseline.exists()
    found = _templates(options)
    counted = _count(found, options.policy, _Prices(options.price_overrides))
    # Limits do not apply: the rows only say what changed.
    counted = [replace(c, rule=Rule(encoding=c.rule.encoding)) for c in counted]
    rows = gate.compare(counted, before, options.policy.warn_at)
    md5s = {t.id: t.md5() for t in found}
    entries = {c.id: baseline.Entry(c.rule.encoding or "", c.tokens, md5s[c.id]) for c in counted}
    baseline.write(options.baseline, entries)
    return Report(tuple(rows), options.baseline, replaced_unreadable=unreadable)


def _templates(options: Options) -> list[templates.Template]:
    if not options.patterns:
        raise ConfigError(
            "no prompt templates to count",
            "pass PATHS, or set paths = [...] in [tool.costlab.tokens]",
        )
    found = templates.discover(options.patterns, options.root, allow_empty=options.allow_empty)
    if options.fixtures is not None:
        fixtures = templates.load_fixtures(options.fixtures)
        found = [
            replace(t, rendered=templates.render(t.text, fixtures.values_for(t.id))) for t in found
        ]
    return found


def _count(
    found: Sequence[templates.Template],
    policy: Policy,
    prices: _Prices,
    known: Mapping[str, baseline.Entry] | None = None,
    traffic: bool = False,
) -> list[Counted]:
    """Each template's count; one whose text and encoding match its `known` entry keeps it.

    Counting is deterministic, so an unchanged text has its baselined count: a CI run where few
    templates changed tokenizes only those, and loads no encoding when none did.
    """
    rules = {t.id: _resolved(policy.for_template(t.id)) for t in found}
    known = known or {}
    tokens: dict[str, int] = {}
    by_encoding: dict[str, list[templates.Template]] = defaultdict(list)
    for t in found:
        encoding = rules[t.id].encoding or encodings.DEFAULT_ENCODING
        entry = known.get(t.id)
        if entry is not None and entry.md5 == t.md5() and entry.encoding == encoding:
            tokens[t.id] = entry.tokens
        else:
            by_encoding[encoding].append(t)
    for name, group in by_encoding.items():
        counts = encodings.load(name).count([t.counted for t in group])
        tokens.update(zip((t.id for t in group), counts, strict=True))
    # The catalogue is read only when a price is used: a $ budget, or Δ$/month with --db.
    return [
        Counted(
            t.id,
            tokens[t.id],
            rules[t.id],
            prices.input(rules[t.id].model, t.id)
            if traffic or rules[t.id].max_usd_per_call is not None
            else None,
        )
        for t in found
    ]


def _resolved(rule: Rule) -> Rule:
    if rule.max_usd_per_call is not None and rule.model is None:
        raise ConfigError(
            f"{rule.glob}: max_usd_per_call needs a model to price the template",
            'set model = "..." in [tool.costlab.tokens] or its rule, or pass --model',
        )
    if rule.encoding is None:
        encoding = encodings.DEFAULT_ENCODING
        if rule.model is not None:
            encoding = _model_encoding(rule.model)
        return replace(rule, encoding=encoding)
    return rule


def _model_encoding(model: str) -> str:
    encoding = encodings.encoding_for_model(model)
    if encoding is None:
        raise BadInput(
            f"no tiktoken encoding that costlab counts is known for model '{model}'",
            f'set encoding = "{encodings.DEFAULT_ENCODING}" for it in [tool.costlab.tokens] (or '
            "pass --encoding): the counts are then an estimate for that model",
        )
    return encoding


def _usage(
    found: Sequence[templates.Template],
    counted: Sequence[Counted],
    baseline_md5s: dict[str, str],
    options: Options,
    prices: _Prices,
) -> tuple[Basis | None, dict[str, Usage]]:
    from costlab.store import Store
    from costlab.tokens import traffic

    db = str(options.db)
    if not Path(db).is_file():
        raise BadInput(
            f"no costlab store at {db}", f"ingest your logs first: costlab --db {db} ingest logs/"
        )
    with Store.open(db, read_only=True) as store:
        basis, calls = traffic.monthly_calls(store, found, options.template_keys, baseline_md5s)
    usage = {}
    for c in counted:
        by_model = calls.get(c.id, {})
        usage[c.id] = Usage(sum(by_model.values(), Decimal(0)), _price(c, by_model, prices))
    return basis, usage


def _price(c: Counted, by_model: dict[str | None, Decimal], prices: _Prices) -> Decimal | None:
    """The input price the template's calls pay: its model's, else each logged model's."""
    total = sum(by_model.values(), Decimal(0))
    if not total:
        return Decimal(0)  # no calls: growth costs nothing
    if c.rule.model is not None:
        return c.usd_per_token
    usd = Decimal(0)
    for model, n in by_model.items():
        price = prices.input(model, c.id, strict=False)
        if price is None:
            return None
        usd += n * price
    return usd / total


class _Prices:
    """Input prices per token, from the catalogue loaded on first use."""

    def __init__(self, overrides: Sequence[PriceOverride]) -> None:
        self._overrides = overrides
        self._catalogue: Catalogue | None = None

    def input(self, model: str | None, template_id: str, *, strict: bool = True) -> Decimal | None:
        """The standard input price of `model` in force today (None: no model, or unknown)."""
        if model is None:
            return None
        if self._catalogue is None:
            self._catalogue = Catalogue.load(overrides=self._overrides)
        resolved = self._catalogue.resolve(model).model
        if resolved is None:
            if not strict:
                return None
            raise BadInput(
                f"{template_id}: unknown model '{model}': not in the price catalogue",
                "find its name with `costlab prices list --search TEXT`",
            )
        points = [
            p
            for p in self._catalogue.points([resolved])
            if not p.batch and p.above_tokens == 0 and p.since <= date.today()
        ]
        latest = max(points, key=lambda p: p.since, default=None)
        return None if latest is None else latest.input
