"""Key rotation of stored tokens: `manage.py rewrap_tokens` and what retiring a version does."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from camouflage import services
from camouflage.fingerprint import fingerprint_version
from camouflage.models import Token
from camouflage.tests.conftest import KEY_1, KEY_2, KEY_3, post

pytestmark = pytest.mark.django_db
VALUES = [f"4111 1111 1111 {i:04d}" for i in range(7)]


def tokenize_all(client) -> list[str]:
    items = [{"value": value, "type": "generic"} for value in VALUES]
    return [item["token"] for item in post(client, "tokenize", {"items": items}).json()["items"]]


def detokenize(client, token: str):
    return post(client, "detokenize", {"token": token})


def rewrap_tokens(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rewrap_tokens", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_tokens_survive_rotation_move_with_rewrap_tokens_and_survive_retirement(client_for, use_keyring):
    use_keyring(f"1:{KEY_1}")
    tokens = tokenize_all(client_for)

    use_keyring(f"1:{KEY_1},2:{KEY_2}")
    assert tokenize_all(client_for) == tokens  # found through their v1 fingerprints
    assert detokenize(client_for, tokens[0]).json()["value"] == VALUES[0]
    out, err = rewrap_tokens("--batch-size", "3")

    assert "rewrapped 7 token(s) to key version 2" in out
    assert "7/7 tokens (100%" in err  # the progress bar, on stderr
    rows = list(Token.objects.order_by("id"))
    assert {row.key_version for row in rows} == {2}
    assert {fingerprint_version(row.fingerprint) for row in rows} == {2}
    assert all(row.ciphertext.startswith("sx:v2:") for row in rows)

    use_keyring(f"1:{KEY_1},2:{KEY_2}", min_version=2)
    assert [detokenize(client_for, token).json()["value"] for token in tokens] == VALUES
    assert tokenize_all(client_for) == tokens
    assert rewrap_tokens()[0].startswith("rewrapped 0 token(s)")


def test_rewrap_tokens_is_resumable(client_for, use_keyring):
    use_keyring(f"1:{KEY_1}")
    tokens = tokenize_all(client_for)
    use_keyring(f"1:{KEY_1},2:{KEY_2}")

    first = services.rewrap_tokens_batch(batch_size=3)  # then the job is killed
    assert first.rewrapped == 3
    assert Token.objects.filter(key_version=2).count() == 3

    out, _ = rewrap_tokens()
    assert "rewrapped 4 token(s)" in out  # only what was left
    assert Token.objects.filter(key_version=1).count() == 0
    assert detokenize(client_for, tokens[-1]).json()["value"] == VALUES[-1]


def test_retiring_a_version_before_rewrap_makes_its_tokens_unreadable(client_for, use_keyring):
    use_keyring(f"1:{KEY_1}")
    old = tokenize_all(client_for)[0]

    use_keyring(f"1:{KEY_1},2:{KEY_2}", min_version=2)

    response = detokenize(client_for, old)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    fresh = post(client_for, "tokenize", {"value": VALUES[0]}).json()["token"]
    assert fresh != old and detokenize(client_for, fresh).json()["value"] == VALUES[0]
    with pytest.raises(CommandError, match="no longer decrypt"):
        rewrap_tokens()


def test_a_twin_from_a_rolling_deploy_keeps_its_token_readable(client_for, use_keyring):
    """A value tokenized under v1 by one process and under v2 by another (keyrings briefly
    differ during a deploy) is two rows; rewrapping must not trip the unique constraint."""
    use_keyring(f"1:{KEY_1}")
    old = tokenize_all(client_for)[0]
    use_keyring(f"2:{KEY_2}")  # a process that never had v1: it cannot find the v1 row
    twin = post(client_for, "tokenize", {"value": VALUES[0]}).json()["token"]
    assert twin != old

    use_keyring(f"1:{KEY_1},2:{KEY_2},3:{KEY_3}")
    out, _ = rewrap_tokens()

    assert "rewrapped 8 token(s) to key version 3" in out
    use_keyring(f"1:{KEY_1},2:{KEY_2},3:{KEY_3}", min_version=3)
    assert detokenize(client_for, old).json()["value"] == VALUES[0]
    assert detokenize(client_for, twin).json()["value"] == VALUES[0]
    assert post(client_for, "tokenize", {"value": VALUES[0]}).json()["token"] == old  # the oldest row takes the new fingerprint
