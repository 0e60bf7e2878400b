"""The limits a template is held to: from the config's defaults, its rules by glob, and flags."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from fnmatch import fnmatchcase

_INCREASE = re.compile(r"^\s*\+?(\d+(?:\.\d+)?)\s*(%|tokens?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Increase:
    """How much a template may grow over its baseline: a percentage or a number of tokens."""

    amount: Decimal
    percent: bool

    @classmethod
    def parse(cls, text: str) -> Increase:
        """'10%' or '50' / '50 tokens'; ValueError otherwise."""
        found = _INCREASE.match(str(text))
        if not found:
            raise ValueError(f"'{text}' is not an increase: write a percentage ('10%') or tokens")
        amount, unit = found.groups()
        if unit != "%" and "." in amount:
            raise ValueError(f"'{text}': a number of tokens is a whole number")
        return cls(Decimal(amount), unit == "%")

    def allowed(self, baseline_tokens: int) -> Decimal:
        """The number of tokens a template of this size may grow by."""
        if self.percent:
            return baseline_tokens * self.amount / 100
        return self.amount

    def __str__(self) -> str:
        return f"{self.amount}%" if self.percent else f"{self.amount} tokens"


@dataclass(frozen=True)
class Rule:
    """Settings for the templates whose id matches `glob`; None leaves a setting as it was."""

    glob: str = "*"
    encoding: str | None = None
    model: str | None = None
    max_increase: Increase | None = None
    max_tokens: int | None = None
    max_usd_per_call: Decimal | None = None

    def over(self, base: Rule) -> Rule:
        """This rule's settings, falling back to `base` for those it leaves unset."""
        unset = {
            f.name: getattr(base, f.name)
            for f in fields(self)
            if f.name != "glob" and getattr(self, f.name) is None
        }
        return replace(self, **unset)


@dataclass(frozen=True)
class Policy:
    """The config's defaults, then each matching rule in order, then flags: the last set wins."""

    warn_at: Decimal  # the share of a limit from which a template is warned about
    default: Rule = Rule()
    rules: tuple[Rule, ...] = ()
    flags: Rule = Rule()

    def for_template(self, template_id: str) -> Rule:
        """The settings that hold for one template (its id is its path, with `/`)."""
        merged = self.default
        for rule in self.rules:
            if fnmatchcase(template_id, rule.glob):
                merged = rule.over(merged)
        return replace(self.flags.over(merged), glob=template_id)

    def with_flags(self, flags: Rule) -> Policy:
        """The same policy, with command-line settings that win over the file's."""
        return replace(self, flags=flags)
