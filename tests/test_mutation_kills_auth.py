"""Exact-value tests of srmlink.auth written against mutants: what each credential accepts,
what it compares equal to, the secrets it hands to redaction (longest first) and the text
:func:`redact` makes of query strings, Bearer headers and given secrets.
"""

from __future__ import annotations

import logging
import pickle

import pytest

from srmlink.auth import ENV_API_KEY, Credentials, Jwt, RedactingFilter, redact


@pytest.mark.parametrize("key", ["", " ", "a b", "key\t", "\nkey"])
def test_an_api_key_must_be_one_word(key: str) -> None:
    with pytest.raises(ValueError, match="an API key must be non-empty and contain no whitespace"):
        Credentials(key)


@pytest.mark.parametrize("token", ["", "a b", " jwt", "jwt\n"])
def test_a_jwt_must_be_one_word(token: str) -> None:
    with pytest.raises(ValueError, match="a JWT must be non-empty and contain no whitespace"):
        Jwt(token)


@pytest.mark.parametrize(
    ("token", "key_token", "shown"),
    [
        ("KEY", "KEY", "Credentials(api_key='***')"),
        ("KEY.", "KEY", "Credentials(api_key='***')"),
        ("KEY.PW", "KEY.PW", "Credentials(api_key='***', password='***')"),
        ("KEY.PW.X", "KEY.PW.X", "Credentials(api_key='***', password='***')"),
    ],
)
def test_tokens(token: str, key_token: str, shown: str) -> None:
    credentials = Credentials.from_token(token)
    assert credentials.token == key_token
    assert repr(credentials) == str(credentials) == shown


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_API_KEY, "  KEY.PW \n")
    assert Credentials.from_env() == Credentials("KEY", "PW")
    monkeypatch.setenv(ENV_API_KEY, "   ")
    assert Credentials.from_env() is None
    monkeypatch.delenv(ENV_API_KEY)
    assert Credentials.from_env() is None


def test_credentials_compare_by_token() -> None:
    assert Credentials("KEY", "PW") == Credentials.from_token("KEY.PW")
    assert hash(Credentials("KEY", "PW")) == hash(Credentials.from_token("KEY.PW"))
    assert Credentials("KEY", "") == Credentials("KEY")
    assert Credentials("KEY", "PW") != Credentials("KEY")
    assert Credentials("KEY") != Credentials("OTHER")
    assert Credentials("KEY") != "KEY"
    assert pickle.loads(pickle.dumps(Credentials("KEY", "PW"))) == Credentials("KEY", "PW")


def test_jwts_compare_by_token() -> None:
    assert Jwt("a.b.c") == Jwt("a.b.c")
    assert hash(Jwt("a.b.c")) == hash(Jwt("a.b.c"))
    assert Jwt("a.b.c") != Jwt("a.b.d")
    assert Jwt("a.b.c") != "a.b.c"
    assert Jwt("a.b.c").token == "a.b.c"
    assert Jwt("a.b.c").header() == {"Authorization": "Bearer a.b.c"}
    assert repr(Jwt("a.b.c")) == str(Jwt("a.b.c")) == "Jwt('***')"


def test_secrets_come_longest_first() -> None:
    assert Credentials("abc", "abcd").secrets() == ("abc.abcd", "abcd", "abc")
    assert Credentials("key").secrets() == ("key",)
    # Longest first: the whole token goes as one, not as "***.***" or "***d".
    assert redact("sent abc.abcd here", Credentials("abc", "abcd").secrets()) == "sent *** here"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ws://h/mlink?apiKey=K.P&x=1", "ws://h/mlink?apiKey=***&x=1"),
        ("?APIKEY=K secret=S pw=P", "?APIKEY=*** secret=*** pw=***"),
        ("pin=1&sessionKey=Z", "pin=***&sessionKey=***"),
        ("url?apikey=K: refused", "url?apikey=***: refused"),
        ("xapikey=K", "xapikey=K"),
        ("Authorization: Bearer abc.def, next", "Authorization: Bearer ***, next"),
        ("bearer   abc", "bearer ***"),
        ("no secrets here", "no secrets here"),
    ],
)
def test_redact_patterns(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_given_secrets_and_ignores_empty_ones() -> None:
    assert redact("one TWO three TWO", ["", "TWO"]) == "one *** three ***"
    assert redact("abc", [""]) == "abc"


def test_arguments_of_a_failed_format_keep_numbers_and_redact_text() -> None:
    record = logging.makeLogRecord(
        {"msg": "%d %s %s %s", "args": (7, 2.5, "apikey=SECRET")}  # one argument too few
    )
    RedactingFilter().filter(record)
    assert record.args == (7, 2.5, "apikey=***")
    mapped = logging.makeLogRecord({"msg": "%(a)s %(b)d %(c)s"})  # no c
    mapped.args = {"a": "apikey=S", "b": 3}
    RedactingFilter().filter(mapped)
    assert mapped.args == {"a": "apikey=***", "b": 3}
