"""Key-encryption-key providers: the key file, keys from the environment, per-tenant routing."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from calmesh.auth.keys import KeyFileProvider, PerTenantKeyProvider, StaticKeyProvider, generate_key
from calmesh.auth.vault import SecretContext, Vault
from calmesh.errors import ConfigurationError, UnknownKeyEncryptionKey

CONTEXT = SecretContext("tnt_a", "con_1")


def test_key_file_is_created_on_first_use_readable_by_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "master.key"
    provider = KeyFileProvider(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyFileProvider(path).current_key("t").key_id == provider.current_key("t").key_id
    assert base64.urlsafe_b64decode(next(iter(json.loads(path.read_text())["keys"].values())))


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    KeyFileProvider(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        KeyFileProvider(path)


def test_a_garbled_key_file_is_a_clear_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text("not json")
    os.chmod(path, 0o600)
    with pytest.raises(ConfigurationError, match="not a calmesh keyring"):
        KeyFileProvider(path)


def test_a_running_provider_picks_up_a_rotation_made_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    serving = KeyFileProvider(path)
    sealed_before = Vault(serving).seal(b"s", CONTEXT)

    rotating = KeyFileProvider(path)
    new_id = rotating.add_current_key()
    sealed_after = Vault(rotating).seal(b"t", CONTEXT)

    # The serving process reads a secret wrapped by a key it has never seen, and seals new ones
    # under the new key, without a restart.
    assert Vault(serving).open(sealed_after, CONTEXT) == b"t"
    assert Vault(serving).seal(b"u", CONTEXT).kek_id == new_id

    rotating.retire_keys([sealed_before.kek_id])
    with pytest.raises(UnknownKeyEncryptionKey):
        Vault(serving).open(sealed_before, CONTEXT)


def test_environment_keys_parse_and_reject_bad_text() -> None:
    current, previous = generate_key(), generate_key()
    provider = StaticKeyProvider.from_text(
        base64.b64encode(current).decode(), base64.urlsafe_b64encode(previous).decode()
    )
    assert len(provider.retired_key_ids) == 1
    with pytest.raises(ConfigurationError, match="32 bytes"):
        StaticKeyProvider.from_text(base64.b64encode(b"short").decode())
    with pytest.raises(ConfigurationError, match="base64"):
        StaticKeyProvider.from_text("!!!not base64!!!")


def test_a_tenant_with_its_own_key_provider_is_sealed_under_its_key() -> None:
    default, customer = StaticKeyProvider([generate_key()]), StaticKeyProvider([generate_key()])
    vault = Vault(PerTenantKeyProvider(default, {"tnt_byok": customer}))
    byok = SecretContext("tnt_byok", "con_1")
    sealed = vault.seal(b"s", byok)
    assert sealed.kek_id == customer.current_key("tnt_byok").key_id
    assert vault.open(sealed, byok) == b"s"
    with pytest.raises(UnknownKeyEncryptionKey):
        Vault(default).open(sealed, byok)  # the operator's key cannot open a customer's secret
