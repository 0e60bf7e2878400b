"""The method chain over a set of templates: compress, check, count, price, write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import cast

from costlab import encodings, prices
from costlab.compress import (
    fewshot,
    from_store,
    gzip_pack,
    lingua,
    minify,
    protect,
    templates,
)
from costlab.compress.report import CompressReport, TemplateResult, Usage
from costlab.compress.templates import Template
from costlab.errors import BadInput
from costlab.store import Store

METHODS = ("minify", "fewshot", "llmlingua2", "llmlingua", "gzip")
DEFAULT_TARGET = "gpt-4o"
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class CompressOptions:
    """How to compress: the method chain, its knobs, and the model whose tokens and price count."""

    methods: tuple[str, ...] = ("minify",)
    rate: float = 0.5  # LLMLingua: the share of each prose piece's tokens to keep
    keep: int = 1  # fewshot: examples kept
    model: str | None = None  # LLMLingua: a local model folder
    target_model: str = DEFAULT_TARGET
    encode: fewshot.Encode | None = None  # fewshot: the embedder


def check_options(options: CompressOptions) -> None:
    """Refuse a chain that cannot run (BadInput), before anything is read or loaded."""
    unknown = [m for m in options.methods if m not in METHODS]
    if unknown or not options.methods:
        raise BadInput(
            f"--method {unknown[0] if unknown else '(none)'}: not a method",
            f"use one or more of {', '.join(METHODS)}",
        )
    if "gzip" in options.methods[:-1]:
        raise BadInput("--method gzip must come last: nothing can run on base64")
    if sum(m.startswith("llmlingua") for m in options.methods) > 1:
        raise BadInput("use one of llmlingua2 and llmlingua, not both")
    if not 0 < options.rate <= 1:
        raise BadInput(f"--rate {options.rate}: give the share of tokens to keep, in (0, 1]")
    if options.keep < 1:
        raise BadInput("--keep must be at least 1")


def compress(
    items: list[Template],
    options: CompressOptions,
    usage: dict[str, Usage],
    usd_per_token: Decimal | None,
    progress: Progress | None = None,
) -> tuple[CompressReport, list[tuple[str, str]]]:
    """Run the chain on every template; the report and the (name, text) files that passed."""
    check_options(options)
    counter = encodings.counter(options.target_model)
    kind = next((m for m in options.methods if m.startswith("llmlingua")), None)
    model = lingua.load(cast(lingua.Kind, kind), options.model) if kind else None
    results, files = [], []
    for done, template in enumerate(items):
        result, text = _one(template, options, counter.count, model)
        if usd_per_token is not None:
            per_1k = result.saved_tokens * 1000 * usd_per_token
            result = replace(result, saved_usd_per_1k_calls=per_1k)
        result = replace(result, usage=usage.get(template.name))
        results.append(result)
        if result.written:
            files.append((template.name, text))
        if progress:
            progress("templates", done + 1, len(items))
    notes = []
    if not counter.exact:
        notes.append(
            f"tokens counted with {counter.encoding}: an estimate for {options.target_model}, "
            "whose own tokenizer is not installed"
        )
    report = CompressReport(
        results, options.target_model, counter.encoding, counter.exact, usd_per_token, None, notes
    )
    return report, files


def _one(
    template: Template,
    options: CompressOptions,
    count: Callable[[str], int],
    model: lingua.Lingua | None,
) -> tuple[TemplateResult, str]:
    text, cuts = template.text, []
    compact = "minify" in options.methods
    for method in options.methods:
        text, found = _apply(method, replace(template, text=text), options, model, compact)
        cuts += found
    examples, notes = None, []
    if "fewshot" in options.methods:
        shots = [c for c in cuts if c.examples]
        if shots:
            examples = f"{sum(c.examples for c in shots)} → {sum(c.kept for c in shots)}"
        else:
            notes.append("fewshot: no few-shot examples found")
    spans = sum(len(protect.mask(s).spans) for s in _texts(template))
    problem = None
    if "gzip" in options.methods:
        notes.append("gzip: measured only, never written (a model cannot read it as a template)")
    else:
        problem = protect.check(template.text, text)
        if problem is None and not text.strip():
            problem = "compressed to nothing"
    lingua_used = any(m.startswith("llmlingua") for m in options.methods)
    result = TemplateResult(
        name=template.name,
        methods=options.methods,
        tokens_before=count(template.text),
        tokens_after=count(text),
        requested_rate=options.rate if lingua_used else None,
        protected_spans=spans,
        written=problem is None and "gzip" not in options.methods,
        problem=problem,
        examples=examples,
        notes=tuple(notes),
    )
    return result, text


def _apply(
    method: str,
    template: Template,
    options: CompressOptions,
    model: lingua.Lingua | None,
    compact: bool,
) -> tuple[str, list[fewshot.Cut]]:
    """One method on one template: the new text, and the few-shot cuts it made."""
    if method == "minify":
        return templates.rewrite(template, minify.minify, compact), []
    if method == "gzip":
        return gzip_pack.pack(template.text), []
    if method == "fewshot":
        encode = options.encode
        if encode is None:
            raise BadInput("--method fewshot needs an embedder")
        cuts: list[fewshot.Cut] = []

        def cut(piece: str) -> str:
            cuts.append(fewshot.cut(piece, options.keep, encode))
            return cuts[-1].text

        return templates.rewrite(template, cut, compact), cuts
    assert model is not None  # loaded up front for the llmlingua methods
    squeeze = model.compress
    return templates.rewrite(template, lambda s: squeeze(s, options.rate), compact), []


def _texts(template: Template) -> list[str]:
    if template.kind == "text":
        return [template.text]
    return templates.strings(templates.parse(template.text, template.kind, template.path))


def write(out: Path, files: list[tuple[str, str]]) -> list[Path]:
    """Write the compressed templates under `out`, all or none."""
    return templates.write(out, files)


@dataclass(frozen=True)
class Sources:
    """Where templates come from and go: files (or the store's top prompts), and --out."""

    paths: tuple[str, ...] = ()
    from_store: int = 0  # the N recurring prompts costing the most input $ (0: use paths)
    out: Path | None = None


def run(
    sources: Sources,
    options: CompressOptions,
    store: Store | None,
    catalogue: prices.Catalogue,
    progress: Progress | None = None,
) -> CompressReport:
    """Find the templates, compress them, and write those that pass (all or none)."""
    check_options(options)
    originals: list[tuple[str, str]] = []
    if sources.from_store:
        if store is None:
            raise BadInput("--from-store needs a store", "run costlab ingest first, or give --db")
        counter = encodings.counter(options.target_model)
        stored = from_store.recurring(store, catalogue, counter.count, sources.from_store)
        if not stored:
            raise BadInput("the store has no recurring prompt (none sent twice or more)")
        items = [p.template for p in stored]
        usage = {p.template.name: p.usage for p in stored}
        originals = [(f"originals/{t.name}", t.text) for t in items]
        if sources.out is not None and sources.out.is_file():
            raise BadInput(f"--out {sources.out} is a file, not a folder")
    else:
        if not sources.paths:
            raise BadInput("give template files or folders, or --from-store")
        inputs = templates.discover(list(sources.paths))
        if sources.out is not None:
            templates.check_out(sources.out, inputs)
        items = inputs.templates
        usage = from_store.usage(store, catalogue, items) if store is not None else {}
    price = from_store.input_price(catalogue, options.target_model)
    report, files = compress(items, options, usage, price, progress)
    if sources.out is None:
        return report
    write(sources.out, originals + files)
    return replace(report, out=str(sources.out))
