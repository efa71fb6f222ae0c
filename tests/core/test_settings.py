"""Settings: validation on creation, and the stored-dict round trip with per-value fallbacks."""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.core.settings import MIB, Settings, SettingsError, overrides_after_edit

# A value other than the default for every field, so a field that does not round-trip shows.
CHANGED = Settings(
    concurrency=7,
    processes=3,
    per_host=0,
    rate=2.5,
    timeout=3.25,
    connect_timeout=1.5,
    retries=0,
    method="head-then-get",
    follow_redirects=False,
    max_redirects=3,
    headers=(("X-Token", "abc: def"), ("Accept", "text/html")),
    user_agent="probe/1",
    cookies=False,
    auth="ann:pa:ss",
    proxy="http://proxy.example:3128",
    verify_tls=False,
    ca_file=__file__,  # an existing file: the setting checks that it is one
    max_body=3 * MIB + 5,
    retry_after_cap=9.5,
    mask_passwords=False,
    csv_raw=True,
    fetch_duplicates=True,
    trailing_slash_matters=True,
    query_matters=False,
    keep_runs=False,
    db_path="/var/tmp/runs.sqlite3",
)


def test_changed_fixture_differs_from_defaults_in_every_field():
    defaults = Settings()
    same = [f.name for f in dataclasses.fields(Settings)
            if getattr(CHANGED, f.name) == getattr(defaults, f.name)]
    assert same == []


def test_round_trip_through_json_keeps_every_value():
    data = json.loads(json.dumps(CHANGED.to_dict()))
    settings, warnings = Settings.from_dict(data)
    assert warnings == []
    assert settings == CHANGED


def test_empty_dict_gives_defaults_without_warnings():
    assert Settings.from_dict({}) == (Settings(), [])


def test_unknown_key_is_ignored_with_a_warning():
    settings, warnings = Settings.from_dict({"concurrency": 3, "colour": "blue"})
    assert settings == Settings(concurrency=3)
    assert warnings == ["unknown setting 'colour' ignored"]


@pytest.mark.parametrize("key, value", [
    ("concurrency", "many"),
    ("concurrency", True),  # bool is an int subclass; it must not pass as 1
    ("concurrency", 2.0),
    ("timeout", "fast"),
    ("follow_redirects", 1),
    ("proxy", 8080),
    ("method", None),
])
def test_value_of_wrong_type_falls_back_to_default_alone(key, value):
    settings, warnings = Settings.from_dict({key: value, "retries": 5})
    assert settings == Settings(retries=5)
    assert len(warnings) == 1 and repr(key) in warnings[0]


@pytest.mark.parametrize("key, value", [
    ("concurrency", 0),
    ("per_host", -1),
    ("timeout", 0),
    ("timeout", float("inf")),  # json.loads accepts `Infinity`
    ("rate", float("nan")),
    ("method", "post"),
    ("max_body", 0),
    ("auth", "no-colon"),
])
def test_invalid_value_falls_back_to_default_alone(key, value):
    settings, warnings = Settings.from_dict({key: value, "retries": 5})
    assert settings == Settings(retries=5)
    assert len(warnings) == 1 and repr(key) in warnings[0]


def test_int_given_for_float_is_accepted():
    settings, warnings = Settings.from_dict({"timeout": 5})
    assert warnings == [] and settings.timeout == 5.0 and isinstance(settings.timeout, float)


@pytest.mark.parametrize("headers", [
    "X-A: 1",
    ["ab", "cd"],  # two-character strings would unpack into (name, value) pairs
    [["X-A"]],
    [["X-A", 1]],
    {"X-A": "1"},
])
def test_malformed_headers_fall_back_to_none(headers):
    settings, warnings = Settings.from_dict({"headers": headers})
    assert settings.headers == ()
    assert warnings == ["setting 'headers': headers must be a list of [name, value] pairs; "
                        "default used"]


def test_data_that_is_not_a_mapping_gives_defaults_with_a_warning():
    settings, warnings = Settings.from_dict([1, 2])  # type: ignore[arg-type]
    assert settings == Settings()
    assert len(warnings) == 1


@pytest.mark.parametrize("name", ["", "X Foo", " X", "X:", "X(1)", "Ünï"])
def test_header_name_must_be_an_http_token(name):
    with pytest.raises(SettingsError, match="header name"):
        Settings(headers=((name, "v"),))


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "a\0b"])
def test_header_value_cannot_break_the_request(value):
    with pytest.raises(SettingsError, match="line break"):
        Settings(headers=(("X-A", value),))


def test_header_value_may_be_empty_or_contain_colons():
    assert Settings(headers=(("X-A", ""), ("X-B", "a: b"))).headers[1] == ("X-B", "a: b")


def test_replace_validates():
    with pytest.raises(SettingsError, match="Requests in flight must be between 1 and 10,000"):
        Settings().replace(concurrency=0)


def test_an_override_lapses_only_for_the_field_the_user_changed():
    before = Settings(concurrency=20)
    overrides = {"concurrency": 5, "timeout": 3.0}
    assert overrides_after_edit(before, before.replace(retries=4), overrides) == overrides
    assert overrides_after_edit(before, before.replace(concurrency=8), overrides) == {
        "timeout": 3.0}


def test_an_override_equal_to_the_users_value_is_dropped():
    saved = Settings(concurrency=5)
    assert overrides_after_edit(saved, saved, {"concurrency": 5, "retries": 0}) == {
        "retries": 0}
