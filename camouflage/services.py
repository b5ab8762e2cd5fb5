"""Every camouflage operation: masking, card checks, the envelope and the token vault.

Plain functions over the pure modules; the only writes are token rows. Nothing here
logs a value: at most a token id and a key version.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from camouflage import cards, keyring, metrics
from camouflage.envelope import DecryptionFailed as SealBroken
from camouflage.envelope import Envelope, RetiredKeyVersion
from camouflage.exceptions import DecryptionFailed, FieldNameHoldsPII
from camouflage.fingerprint import canonical_value, new_token
from camouflage.models import Token, TokenType
from shieldx import masking
from shieldx.masking import mask_for_logs

logger = logging.getLogger(__name__)

# Per-item failure inside a batch: the one error shape, without request id or details.
FAILED_ITEM: dict[str, Any] = {"error": {"code": DecryptionFailed.code, "message": DecryptionFailed.default_message}}
_TOKENIZE_ATTEMPTS = 3


def token_context(token: str) -> str:
    """Associated data of a stored value: binds the ciphertext to its row, so values
    swapped between rows in the database fail to decrypt instead of answering wrong."""
    return f"token:{token}"


def fingerprint_input(kind: str, canonical: str) -> str:
    # The type is part of what is fingerprinted: the same digits tokenized as `generic`
    # and as `card` are two tokens, each detokenizing to its own form.
    return f"{kind}:{canonical}"


# --- masking and cards ------------------------------------------------------------------


def mask_text(*, text: str) -> dict[str, Any]:
    masked, findings = masking.mask_text(text)
    return {"masked": masked, "findings": [{"type": f.type, "start": f.start, "end": f.end} for f in findings]}


def mask_fields(*, fields: Mapping[str, str]) -> dict[str, Any]:
    # Names come back as keys of the answer, so they must not carry what the values may not.
    if any(mask_for_logs(name) != name for name in fields):
        raise FieldNameHoldsPII()
    masked, found = masking.mask_fields(fields)
    return {"fields": masked, "findings": found}


def validate_card(*, number: str) -> dict[str, Any]:
    info = cards.validate(number).as_dict()
    # `masked` keeps non-digits; passing it through the log masker too means an email
    # or IBAN typed into the card field is not echoed either.
    info["masked"] = mask_for_logs(info["masked"])
    return info


# --- the envelope -------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOutcome:
    items: list[dict[str, Any]]
    failed: int


def _note_failure(exc: SealBroken) -> None:
    if isinstance(exc, RetiredKeyVersion):
        metrics.retired_key_decryptions.inc()


def encrypt(*, tenant_id: str, items: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """(plaintext, context) pairs -> `{"ciphertext", "key_version"}` under the active version."""
    envelope = keyring.envelope()
    version = envelope.active_version
    return [{"ciphertext": envelope.encrypt(text, tenant=tenant_id, context=context), "key_version": version} for text, context in items]


def _per_item(items: Sequence[tuple[str, str]], open_one) -> BatchOutcome:
    """Vault Transit's batch semantics: each item succeeds or fails on its own; a batch
    where every item failed is refused as a whole, like a single call."""
    results: list[dict[str, Any]] = []
    failed = 0
    for ciphertext, context in items:
        try:
            results.append(open_one(ciphertext, context))
        except SealBroken as exc:
            _note_failure(exc)
            failed += 1
            results.append(FAILED_ITEM)
    if failed and failed == len(items):
        raise DecryptionFailed()
    return BatchOutcome(results, failed)


def decrypt(*, tenant_id: str, items: Sequence[tuple[str, str]]) -> BatchOutcome:
    """(ciphertext, context) pairs -> `{"plaintext"}` or the failed-item marker."""
    envelope = keyring.envelope()
    return _per_item(items, lambda ciphertext, context: {"plaintext": envelope.decrypt(ciphertext, tenant=tenant_id, context=context)})


def rewrap(*, tenant_id: str, items: Sequence[tuple[str, str]]) -> BatchOutcome:
    """(ciphertext, context) pairs -> the same plaintext under the active version."""
    envelope = keyring.envelope()
    version = envelope.active_version

    def one(ciphertext: str, context: str) -> dict[str, Any]:
        return {"ciphertext": envelope.rewrap(ciphertext, tenant=tenant_id, context=context), "key_version": version}

    return _per_item(items, one)


# --- tokens -------------------------------------------------------------------------------


def token_body(row: Token) -> dict[str, Any]:
    body: dict[str, Any] = {"token": row.token}
    if row.type == TokenType.CARD:
        body["last4"], body["brand"] = row.last4, row.brand
    return body


def _find_tokens(tenant_id: str, candidates: Mapping[str, list[str]]) -> dict[str, Token]:
    """Rows by fingerprint input; a value may match under any decryptable version (a row
    not yet rewrapped), and the oldest row wins should a rolling deploy have made two."""
    wanted = [fp for fps in candidates.values() for fp in fps]
    by_fingerprint: dict[str, Token] = {}
    rows = Token.objects.filter(tenant_id=tenant_id, fingerprint__in=wanted).only("id", "token", "fingerprint", "type", "last4", "brand")
    for row in rows.order_by("id"):
        by_fingerprint.setdefault(row.fingerprint, row)
    found: dict[str, Token] = {}
    for key, fps in candidates.items():
        matches = [by_fingerprint[fp] for fp in fps if fp in by_fingerprint]
        if matches:
            found[key] = min(matches, key=lambda row: row.id)
    return found


def _new_row(*, tenant_id: str, kind: str, canonical: str, fingerprint: str, envelope: Envelope) -> Token:
    token = new_token()
    row = Token(
        tenant_id=tenant_id,
        token=token,
        fingerprint=fingerprint,
        ciphertext=envelope.encrypt(canonical, tenant=tenant_id, context=token_context(token)),
        key_version=envelope.active_version,
        type=kind,
    )
    if kind == TokenType.CARD:
        row.last4, row.brand = canonical[-4:], cards.detect_brand(canonical)
    return row


def tokenize(*, tenant_id: str, items: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """(value, type) pairs -> `{"token", "last4"?, "brand"?}`; one value, one token per tenant.

    Race: two requests tokenizing one new value both miss the lookup and both insert.
    The unique (tenant, fingerprint) constraint lets one row in (`ON CONFLICT DO
    NOTHING`, which waits for the other transaction), and the second lookup returns
    the winner to both. No lock is held across the HMAC and AES work.
    """
    crypto = keyring.crypto()
    keys = [fingerprint_input(kind, canonical_value(value, kind=kind)) for value, kind in items]
    candidates = {key: crypto.fingerprinter.candidates(key, tenant=tenant_id) for key in dict.fromkeys(keys)}
    found = _find_tokens(tenant_id, candidates)
    for _ in range(_TOKENIZE_ATTEMPTS):
        missing = {key: fps for key, fps in candidates.items() if key not in found}
        if not missing:
            break
        rows = []
        for key in missing:
            kind, _, canonical = key.partition(":")
            fingerprint = crypto.fingerprinter.fingerprint(key, tenant=tenant_id)
            rows.append(_new_row(tenant_id=tenant_id, kind=kind, canonical=canonical, fingerprint=fingerprint, envelope=crypto.envelope))
        # One insert order for every request: two batches holding the same new values in
        # different orders would otherwise each wait on a row the other just inserted.
        rows.sort(key=lambda row: row.fingerprint)
        Token.objects.bulk_create(rows, ignore_conflicts=True)
        found.update(_find_tokens(tenant_id, missing))
    else:
        # Only a collision of two random 144-bit token ids could leave a row out three times.
        raise RuntimeError("tokenize could not store a token after retries")
    return [token_body(found[key]) for key in keys]


@dataclass(frozen=True)
class RewrapProgress:
    last_id: int | None  # None: no row left after `after_id`
    rewrapped: int = 0
    failed: int = 0


@transaction.atomic
def rewrap_tokens_batch(*, after_id: int = 0, batch_size: int = 500) -> RewrapProgress:
    """Move the next rows below the active version (by id, after `after_id`) to it:
    ciphertext and fingerprint together, in this one transaction.

    `skip_locked` lets two jobs share the work and never blocks on a row another
    transaction holds; tokenize and detokenize never lock rows, so serving goes on.
    Rows that no longer decrypt (retired or unknown version) are counted and left.
    """
    crypto = keyring.crypto()
    active = crypto.keyring.active_version
    rows = list(
        Token.objects.select_for_update(skip_locked=True)
        .filter(key_version__lt=active, id__gt=after_id)
        .order_by("id")[:batch_size]
    )
    if not rows:
        return RewrapProgress(last_id=None)
    moved: list[tuple[Token, str]] = []  # (row, its old fingerprint)
    failed = 0
    for row in rows:
        context = token_context(row.token)
        try:
            value = crypto.envelope.decrypt(row.ciphertext, tenant=row.tenant_id, context=context)
        except SealBroken as exc:
            _note_failure(exc)
            failed += 1
            continue
        moved.append((row, row.fingerprint))
        row.ciphertext = crypto.envelope.encrypt(value, tenant=row.tenant_id, context=context)
        row.fingerprint = crypto.fingerprinter.fingerprint(fingerprint_input(row.type, value), tenant=row.tenant_id)
        row.key_version = active
    _keep_fingerprints_of_twins(moved, exclude_ids=[row.id for row in rows])
    Token.objects.bulk_update([row for row, _ in moved], ["ciphertext", "fingerprint", "key_version"])
    if failed:
        logger.warning("rewrap_tokens: %d token(s) up to id %d no longer decrypt (retired or unknown key version)", failed, rows[-1].id)
    return RewrapProgress(last_id=rows[-1].id, rewrapped=len(moved), failed=failed)


def _keep_fingerprints_of_twins(moved: list[tuple[Token, str]], *, exclude_ids: list[int]) -> None:
    """A row whose new fingerprint another row already holds has a twin: the same value
    tokenized under another version by a process whose keyring differed during a rolling
    deploy. It keeps its old fingerprint, so the unique constraint holds; lookups find
    the twin, and its own token still detokenizes because its ciphertext moves anyway."""
    if not moved:
        return
    taken = set(
        Token.objects.filter(fingerprint__in=[row.fingerprint for row, _ in moved])
        .exclude(id__in=exclude_ids)
        .values_list("tenant_id", "fingerprint")
    )
    for row, old_fingerprint in moved:  # by id: the oldest twin takes the new fingerprint
        if (row.tenant_id, row.fingerprint) in taken:
            row.fingerprint = old_fingerprint
        else:
            taken.add((row.tenant_id, row.fingerprint))
