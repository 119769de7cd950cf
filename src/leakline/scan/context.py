"""What a rule gets: the project index of one app plus analyses shared between rules (computed once)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from leakline.configfile import ScanAppSettings
from leakline.scan.index import ProjectIndex, SourceFile

if TYPE_CHECKING:
    from leakline.scan.headers import AppHeaders
    from leakline.scan.llmdata import LlmAnalysis


class ScanContext:
    def __init__(self, index: ProjectIndex, only: list[SourceFile] | None = None) -> None:
        self.index = index
        self.only = only
        """The source files per-file rules report on in this process (a shard), or None for all of them."""

    @property
    def targets(self) -> list[SourceFile]:
        """What a per-file rule iterates: its shard. Cross-file facts still come from the whole index."""
        return self.index.sources if self.only is None else self.only

    @property
    def settings(self) -> ScanAppSettings:
        return self.index.settings

    def release(self) -> None:
        """Drop the shared analyses once every rule of the app has run. They refer to each other (each module's
        LLM facts to the app's analysis), so only the cyclic garbage collector could free them otherwise: a scan
        keeps it off, and when it comes back on it walked all of them (~0.3 s after the 5,000-file benchmark
        scanned in-process, where nothing else needs them any more)."""
        llm: LlmAnalysis | None = self.__dict__.pop("llm", None)
        if llm is not None:
            llm.release()

    @cached_property
    def llm(self) -> LlmAnalysis:
        """Where LLM data (prompts, outputs, values derived from them) lives in this app's source."""
        from leakline.scan.llmdata import LlmAnalysis

        return LlmAnalysis(self.index)

    @cached_property
    def headers(self) -> AppHeaders:
        """The response headers the app sets (next.config, middleware, vercel.json, <meta>, helpers)."""
        from leakline.scan.headers import collect_headers

        return collect_headers(self.index)
