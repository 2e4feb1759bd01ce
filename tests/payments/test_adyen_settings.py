"""Adyen's settings: a key that cannot verify anything refuses to start, not every notification."""

from __future__ import annotations

from tests.test_settings import run


def test_an_hmac_key_that_is_not_hex_refuses_to_start():
    result = run("check", ADYEN_HMAC_KEY="not-a-hex-key")
    assert result.returncode != 0
    assert "ADYEN_HMAC_KEY must be the hex key" in result.stderr


def test_an_unknown_environment_refuses_to_start():
    result = run("check", ADYEN_ENVIRONMENT="staging")
    assert result.returncode != 0
    assert "ADYEN_ENVIRONMENT must be test or live" in result.stderr


def test_a_hex_key_starts():
    result = run(
        "check", ADYEN_HMAC_KEY="44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
    )
    assert result.returncode == 0, result.stderr
