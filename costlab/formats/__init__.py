"""Log formats: one module per format, one small interface, a plain dict registry.

Detection is per record: the first format in `FORMATS` order whose `detect` accepts the
record parses it. `--format NAME` skips detection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from costlab.call import Call
from costlab.errors import RecordError


class LogFormat(ABC):
    """Reads one log record (a decoded JSON object) into a canonical `Call`."""

    name: ClassVar[str]
    description: ClassVar[str]

    @staticmethod
    @abstractmethod
    def detect(record: dict[str, Any]) -> bool:
        """Whether this record looks like this format (cheap: look at keys only)."""

    @abstractmethod
    def parse(self, record: dict[str, Any]) -> Call:
        """The call this record describes; raise RecordError with a reason when it cannot."""

    def parse_all(self, record: dict[str, Any]) -> list[Call]:
        """The calls this record describes: one, unless the format batches several a record."""
        return [self.parse(record)]


def _registry() -> dict[str, LogFormat]:
    # Imported here so each format module can import LogFormat from this package.
    from costlab.formats.anthropic import AnthropicBatchResult, AnthropicMessage
    from costlab.formats.bedrock import BedrockInvocationLog
    from costlab.formats.flat import FlatRecord
    from costlab.formats.gemini import GeminiBatchPrediction, GeminiResponse
    from costlab.formats.langfuse import LangfuseObservation
    from costlab.formats.litellm import LiteLLMPayload, LiteLLMSpendLog
    from costlab.formats.openai import (
        OpenAIBatchInput,
        OpenAIBatchOutput,
        OpenAIChat,
        OpenAIResponses,
    )
    from costlab.formats.otel import OTelSpan

    # Order matters: the more specific shapes come first.
    formats: list[LogFormat] = [
        OpenAIBatchOutput(),
        OpenAIBatchInput(),
        AnthropicBatchResult(),
        GeminiBatchPrediction(),
        BedrockInvocationLog(),
        LiteLLMPayload(),
        LiteLLMSpendLog(),
        LangfuseObservation(),
        OTelSpan(),
        OpenAIResponses(),
        OpenAIChat(),
        AnthropicMessage(),
        GeminiResponse(),
        FlatRecord(),
    ]
    return {f.name: f for f in formats}


FORMATS: dict[str, LogFormat] = _registry()


class Detector:
    """Finds the format of each record, trying the last format that matched first."""

    def __init__(self, forced: str | None = None) -> None:
        if forced is not None and forced not in FORMATS:
            known = ", ".join(FORMATS)
            raise ValueError(f"unknown format '{forced}' (known: {known})")
        self._forced = FORMATS[forced] if forced else None
        self._last: LogFormat | None = None

    def parse(self, record: Any) -> tuple[str, Call]:
        """The format name and the call, or a RecordError saying why not."""
        fmt = self.format_of(record)
        return fmt.name, fmt.parse(record)

    def parse_all(self, record: Any) -> tuple[str, list[Call]]:
        """The format name and every call the record describes (a CloudWatch payload: several)."""
        fmt = self.format_of(record)
        return fmt.name, fmt.parse_all(record)

    def format_of(self, record: Any) -> LogFormat:
        """The format that reads this record, or a RecordError saying why there is none."""
        if not isinstance(record, dict):
            raise RecordError(f"record is a JSON {type(record).__name__}, not an object")
        if self._forced is not None:
            return self._forced
        if self._last is not None and self._last.detect(record):
            return self._last
        for fmt in FORMATS.values():
            if fmt.detect(record):
                self._last = fmt
                return fmt
        keys = ", ".join(sorted(record)[:8])
        raise RecordError(f"unknown format: no known log format has these keys ({keys})")
