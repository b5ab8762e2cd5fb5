"""The PII masker: pure Python, no Django, so the base (logs, error bodies) and every app
may use it. camouflage's `/camouflage/mask` builds on it; credits masks stored free
text and metadata with it.

The public surface (import only these):

- `find_pii(text)`, `mask_text(text)`: free-text detection (CONTRACT §5, §5a), findings
  `(type, start, end)` with offsets into `text`;
- `mask_fields(fields)`: form fields, where a card- or SSN-shaped value is masked
  without checksums and the field's name counts as the word before its value;
- `mask_for_logs(text)`: the log mask (every card-shaped run, SSN shape, email and
  IBAN, through up to three layers of percent-encoding);
- `mask_mapping(mapping)`, `mask_value(value)`: the log mask over JSON-like data, keys
  included (ledger metadata, log extras, error details);
- `FINDING_TYPES`, `Finding`; `parse_phone_regions`, `set_phone_regions` for
  `SHIELDX_PHONE_REGIONS`.
"""

from __future__ import annotations

from .logfilter import mask_for_logs, mask_mapping, mask_value
from .phones import DEFAULT_PHONE_REGIONS, parse_phone_regions, phone_regions, set_phone_regions
from .text import FINDING_TYPES, Finding, find_pii, mask_fields, mask_text

__all__ = (
    "DEFAULT_PHONE_REGIONS",
    "FINDING_TYPES",
    "Finding",
    "find_pii",
    "mask_fields",
    "mask_for_logs",
    "mask_mapping",
    "mask_text",
    "mask_value",
    "parse_phone_regions",
    "phone_regions",
    "set_phone_regions",
)
