"""The vault's promises: each secret its own data key, bound to its tenant and connection,
tampering and moving detected, wrong keys refused, and secrets never printed."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from calmesh.auth.keys import StaticKeyProvider, generate_key
from calmesh.auth.vault import Credentials, SealedSecret, SecretContext, Vault
from calmesh.errors import DecryptionFailed, UnknownKeyEncryptionKey

SECRET = b'{"refresh_token": "1//0gXq-very-secret"}'
HERE = SecretContext("tnt_a", "con_1")


@pytest.fixture
def vault() -> Vault:
    return Vault(StaticKeyProvider([generate_key()]))


def test_sealed_secret_opens_in_its_own_context(vault: Vault) -> None:
    assert vault.open(vault.seal(SECRET, HERE), HERE) == SECRET


def test_every_secret_gets_a_fresh_data_key_and_nonce(vault: Vault) -> None:
    first, second = vault.seal(SECRET, HERE), vault.seal(SECRET, HERE)
    assert first.wrapped_key != second.wrapped_key
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
    assert SECRET not in first.ciphertext


@pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrapped_key"])
def test_a_flipped_bit_anywhere_is_detected(vault: Vault, field: str) -> None:
    sealed = vault.seal(SECRET, HERE)
    damaged = bytearray(getattr(sealed, field))
    damaged[len(damaged) // 2] ^= 0x01
    with pytest.raises(DecryptionFailed):
        vault.open(dataclasses.replace(sealed, **{field: bytes(damaged)}), HERE)


@pytest.mark.parametrize(
    "elsewhere",
    [SecretContext("tnt_a", "con_2"), SecretContext("tnt_b", "con_1"), SecretContext("tnt_ac", "on_1")],
    ids=["other-connection", "other-tenant", "shifted-boundary"],
)
def test_a_secret_copied_to_another_connection_does_not_open(vault: Vault, elsewhere: SecretContext) -> None:
    with pytest.raises(DecryptionFailed):
        vault.open(vault.seal(SECRET, HERE), elsewhere)


def test_swapping_wrapped_keys_between_two_secrets_fails(vault: Vault) -> None:
    a, b = vault.seal(SECRET, HERE), vault.seal(b"other", HERE)
    with pytest.raises(DecryptionFailed):
        vault.open(dataclasses.replace(a, wrapped_key=b.wrapped_key), HERE)


def test_a_vault_with_another_key_refuses(vault: Vault) -> None:
    sealed = vault.seal(SECRET, HERE)
    with pytest.raises(UnknownKeyEncryptionKey):
        Vault(StaticKeyProvider([generate_key()])).open(sealed, HERE)


def test_a_key_claiming_the_right_id_but_wrong_bytes_fails(vault: Vault) -> None:
    sealed = vault.seal(SECRET, HERE)
    impostor = StaticKeyProvider([generate_key()])
    impostor._by_id[sealed.kek_id] = impostor._keys[0]  # same id, different key material
    with pytest.raises(DecryptionFailed):
        Vault(impostor).open(sealed, HERE)


def test_rewrap_moves_to_the_current_key_without_touching_the_ciphertext() -> None:
    old_key, new_key = generate_key(), generate_key()
    sealed = Vault(StaticKeyProvider([old_key])).seal(SECRET, HERE)
    rotated_vault = Vault(StaticKeyProvider([new_key, old_key]))
    rewrapped = rotated_vault.rewrap(sealed, HERE)
    assert rewrapped.kek_id != sealed.kek_id
    assert rewrapped.ciphertext == sealed.ciphertext
    assert Vault(StaticKeyProvider([new_key])).open(rewrapped, HERE) == SECRET
    assert rotated_vault.rewrap(rewrapped, HERE) is rewrapped


def test_secrets_never_show_in_repr_str_logs_or_errors(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    credentials = Credentials(access_token="ya29.secret-access", refresh_token="1//secret-refresh")
    sealed = vault.seal(credentials.to_bytes(), HERE)
    logging.getLogger("calmesh.test").warning("connection credentials: %s %r", credentials, sealed)
    try:
        vault.open(sealed, SecretContext("tnt_a", "con_2"))
    except DecryptionFailed as exc:
        error_text = f"{exc} {exc!r}"
    shown = f"{credentials!r} {credentials!s} {sealed!r} {caplog.text} {error_text}"
    assert "secret-access" not in shown and "secret-refresh" not in shown
    assert "access_token=<redacted>" in repr(credentials)
    assert Credentials.from_bytes(vault.open(sealed, HERE))["refresh_token"] == "1//secret-refresh"


def test_sealed_secret_repr_shows_no_bytes(vault: Vault) -> None:
    sealed: SealedSecret = vault.seal(SECRET, HERE)
    assert sealed.ciphertext.hex() not in repr(sealed)
