"""LLMLingua methods through the `llmlingua` package, offline, on CPU.

`llmlingua2` classifies each token keep/drop with a BERT or XLM-R token classifier (LLMLingua-2);
`llmlingua` drops the tokens a local causal LM finds least surprising (perplexity, LLMLingua).
Only this module imports llmlingua, transformers and torch, inside the functions that load them.
Protected spans never reach the model: the template is cut into prose pieces around them, and
only the pieces are compressed, so placeholders, numbers, code and URLs come out byte for byte.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from costlab import encodings
from costlab.compress import protect
from costlab.errors import BadInput

Kind = Literal["llmlingua2", "llmlingua"]
DEFAULT_LLMLINGUA2 = "microsoft/llmlingua-2-bert-base-multilingual-cased-meetingbank"
# llmlingua 0.2.2 recognises a LLMLingua-2 model by these words in its name.
_FAMILY = {"bert": "bert-base-multilingual-cased", "xlm-roberta": "xlm-roberta-large"}
# A line's list or heading marker stays as written: the model would drop it as noise.
_MARKER = re.compile(r"^([ \t]*(?:[-*+>]|#{1,6}|\d+[.)])?[ \t]*)(.*?)([ \t]*)$", re.S)
_MIN_WORDS = 3  # shorter pieces are kept whole: nothing worth dropping, and a model call saved


@dataclass
class Lingua:
    """A loaded compressor; `compress` keeps about `rate` of each prose piece's tokens."""

    kind: Kind
    model: str
    _compressor: Any

    def compress(self, text: str, rate: float) -> str:
        """The template with its prose compressed and its protected spans untouched."""
        masked = protect.mask(text)
        pieces = protect.split(masked.text)
        parts: list[tuple[str, str, str] | str] = []
        prose: list[str] = []
        for piece, protected in pieces:
            found = _MARKER.match(piece)
            if protected or not found or len(found.group(2).split()) < _MIN_WORDS:
                parts.append(piece)
                continue
            parts.append((found.group(1), found.group(2), found.group(3)))
            prose.append(found.group(2))
        squeezed = iter(self._squeeze(prose, rate))
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
            else:
                lead, _, trail = part
                core = next(squeezed).strip()
                out.append(lead + core + trail if core else lead + (" " if trail else ""))
        return masked.unmask("".join(out))

    def _squeeze(self, prose: list[str], rate: float) -> list[str]:
        if not prose:
            return []
        if self.kind == "llmlingua2":
            result = self._compressor.compress_prompt_llmlingua2(prose, rate=rate)
            return list(result["compressed_prompt_list"])
        return [
            self._compressor.compress_prompt(
                [piece], rate=rate, use_context_level_filter=False, use_sentence_level_filter=False
            )["compressed_prompt"]
            for piece in prose
        ]


def load(kind: Kind, model: str | None) -> Lingua:
    """Load the compressor for `kind` from a local folder or the hub cache; never downloads."""
    path = _locate(kind, model)
    config = _config(path)
    architectures = " ".join(config.get("architectures") or [])
    wanted = "ForTokenClassification" if kind == "llmlingua2" else "ForCausalLM"
    if wanted not in architectures and not (kind == "llmlingua" and "LMHead" in architectures):
        raise BadInput(
            f"--model {path}: a {architectures or 'model'} cannot run --method {kind}",
            "llmlingua2 needs a token classifier (LLMLingua-2), llmlingua a causal LM",
        )
    for name, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("TRANSFORMERS_OFFLINE", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
    ):
        os.environ.setdefault(name, value)
    encodings.seed_cl100k()
    try:
        from llmlingua import PromptCompressor
    except ImportError:
        raise BadInput(
            f"--method {kind} needs the llmlingua package",
            "pip install 'costlab[compression]' (pin torch==2.13.0 first for the CPU build)",
        ) from None
    try:
        compressor = PromptCompressor(
            model_name=str(path), device_map="cpu", use_llmlingua2=kind == "llmlingua2"
        )
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise BadInput(f"cannot load the model at {path}: {err}") from None
    if kind == "llmlingua2":
        family = _FAMILY.get(str(config.get("model_type")))
        if family is None:
            raise BadInput(f"--model {path}: LLMLingua-2 runs BERT or XLM-RoBERTa classifiers")
        if not any(marker in str(path) for marker in _FAMILY.values()):
            compressor.model_name = family  # llmlingua picks its word rules by this name
    else:
        compressor.model = _LegacyCache(compressor.model)
    return Lingua(kind, str(path), compressor)


def _locate(kind: Kind, model: str | None) -> Path:
    if model is not None:
        path = Path(model).expanduser()
        if not (path / "config.json").is_file():
            raise BadInput(
                f"--model {model}: no model folder there (config.json not found)",
                "give a folder saved with save_pretrained (config.json, weights, tokenizer)",
            )
        return path.resolve()
    if kind == "llmlingua":
        raise BadInput(
            "--method llmlingua needs --model PATH: a local causal LM folder",
            "any Hugging Face causal LM saved locally (GPT-2, Llama, …); costlab never downloads",
        )
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        return Path(snapshot_download(DEFAULT_LLMLINGUA2, local_files_only=True))
    except (ImportError, LocalEntryNotFoundError, OSError, ValueError):
        raise BadInput(
            f"the LLMLingua-2 model {DEFAULT_LLMLINGUA2} is not installed",
            "give --model PATH to a local copy of it, or put it in the Hugging Face hub cache "
            f"(on a machine with network: huggingface-cli download {DEFAULT_LLMLINGUA2}); "
            "the minify, fewshot and gzip methods need no model",
        ) from None


def _config(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BadInput(f"--model {path}: cannot read config.json: {err}") from None
    return loaded if isinstance(loaded, dict) else {}


class _LegacyCache:
    """The causal LM as llmlingua 0.2.2 expects it: past key/values as [[k, v], …] lists.

    transformers 5 passes and returns Cache objects; llmlingua slices the legacy lists.
    """

    def __init__(self, model: Any) -> None:
        self._model = model

    def __call__(self, *args: Any, past_key_values: Any = None, **kwargs: Any) -> Any:
        import inspect

        from transformers import DynamicCache

        if isinstance(past_key_values, list):
            past_key_values = DynamicCache(ddp_cache_data=[(k, v) for k, v in past_key_values])
        # transformers 5.x renames the argument `cache`; older releases only know the long name.
        name = "cache" if "cache" in inspect.signature(self._model.forward).parameters else None
        output = self._model(*args, **{name or "past_key_values": past_key_values}, **kwargs)
        cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
        if cache is not None and hasattr(cache, "layers"):
            output.past_key_values = [[layer.keys, layer.values] for layer in cache.layers]
        return output

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)
