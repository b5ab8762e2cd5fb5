"""JSONL request bodies, read lazily.

DRF's parsers return parsed data; this one returns the line reader itself, so the
import service pulls one line at a time from the socket inside its transaction and a
100 MiB upload never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from rest_framework.parsers import BaseParser

from shadow.samples import CleanSample, SampleError, clean_line, clean_parsed, iter_lines


class JsonLines:
    """(line number, cleaned sample or the reason it was refused), line by line."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream

    def __iter__(self) -> Iterator[tuple[int, CleanSample | SampleError]]:
        for number, raw in iter_lines(self.stream):
            try:
                yield number, clean_line(raw)
            except SampleError as exc:
                yield number, exc


def json_samples(items: list) -> Iterator[tuple[int, CleanSample | SampleError]]:
    """The elements of ``{"samples": [...]}``, numbered from 1 like lines."""
    for number, obj in enumerate(items, start=1):
        try:
            yield number, clean_parsed(obj)
        except SampleError as exc:
            yield number, exc


class NdjsonParser(BaseParser):
    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None) -> JsonLines:
        return JsonLines(stream)


class JsonlParser(NdjsonParser):
    media_type = "application/jsonl"
