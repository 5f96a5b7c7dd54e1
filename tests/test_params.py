"""Parameter values worked out at run time: templates checked at the call and rendered with a
given context, secrets, and how each kind of value is written into the manifest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestration import secret, template
from orchestration.compile.plan import parameter
from orchestration.errors import DefinitionError
from orchestration.rules.context import RunContext
from orchestration.rules.templates import render
from orchestration.rules.values import kind_of

SCHEDULED = datetime(2026, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))


def context(**environ: str) -> RunContext:
    return RunContext(
        namespace="backups",
        task="nightly",
        run_id="20260228T233000-abc123",
        scheduled_time=SCHEDULED,
        now=SCHEDULED + timedelta(seconds=2),
        environ=environ,
    )


@pytest.mark.parametrize(
    "source, text",
    [
        ("{{ yesterday }}", "2026-02-28"),
        ("{{ today }}/{{ tomorrow }}", "2026-03-01/2026-03-02"),
        ("{{ scheduled_time | strftime('%Y-%m-%d %H:%M') }}", "2026-03-01 00:30"),
        ("{{ (scheduled_time - days(1)).date() }}", "2026-02-28"),
        ("{{ (scheduled_time - hours(1)) | strftime('%H') }}", "23"),
        ("{{ (scheduled_time + minutes(45)).isoformat() }}", "2026-03-01T01:15:00+01:00"),
        ("{{ now | strftime('%S') }}", "02"),
        ("{{ namespace }}/{{ task }}/{{ run_id }}/{{ trigger }}", "backups/nightly/20260228T233000-abc123/cron"),
        ("{{ env.TARGET }} {{ env.get('MISSING', 'default') }}", "/srv/out default"),
        ("{% if scheduled_time.weekday() == 6 %}weekly{% else %}daily{% endif %}", "weekly"),
    ],
)
def test_templates_render_with_the_runs_context(source: str, text: str) -> None:
    assert render(template(source).source, context(TARGET="/srv/out")) == text


def test_a_template_is_strict_about_undefined_values_at_run_time() -> None:
    with pytest.raises(Exception) as raised:
        render(template("{{ env.TOKEN }}").source, context())
    assert type(raised.value).__name__ == "UndefinedError"
    assert str(raised.value) == "'dict object' has no attribute 'TOKEN'"


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "{{ yesterdya }}",
            "template('{{ yesterdya }}'): unknown name 'yesterdya'; a template can use scheduled_time, now,"
            " today, yesterday, tomorrow, task, namespace, run_id, trigger, env and the functions days,"
            " hours, minutes\nDid you mean 'yesterday'?",
        ),
        (
            "{{ scheduled_time | strftime('%Y') ",
            "template(\"{{ scheduled_time | strftime('%Y') \"): syntax error on line 1: unexpected end of"
            " template, expected 'end of print statement'; fix the template",
        ),
        (
            "{{ now | strftme('%Y') }}",
            "template(\"{{ now | strftme('%Y') }}\"): syntax error on line 1: No filter named 'strftme';"
            " fix the template\nBesides jinja2's own filters, templates have: strftime.",
        ),
        (
            "line one\n{% for x in [1] %}",
            "template('line one\\n{% for x in [1] %}'): syntax error on line 2: Unexpected end of template."
            " Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block that needs"
            " to be closed is 'for'; fix the template",
        ),
        (42, "template(): source must be a string such as '{{ yesterday }}', not int 42"),
    ],
)
def test_a_bad_template_fails_at_the_call(source, message: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        template(source)
    assert str(raised.value) == message


def test_secret_refuses_values_without_showing_them() -> None:
    with pytest.raises(DefinitionError) as raised:
        secret(["hunter2"])
    assert str(raised.value) == (
        "secret(): the value must be a str, int, float, bool or pathlib.Path, a template('...') or a function, not list"
    )
    with pytest.raises(DefinitionError) as raised:
        secret("hunter2\0")
    assert "hunter2" not in str(raised.value)
    assert repr(secret("hunter2")) == "secret(***)"


def named_function(context):
    return context.task


@pytest.mark.parametrize(
    "value, stored, kind",
    [
        ("plain", "plain", "value"),
        (True, "true", "value"),
        (Path("/srv/x"), "/srv/x", "value"),
        (secret(7), {"value": "7", "secret": True}, "secret value"),
        (template("{{ yesterday }}"), {"template": "{{ yesterday }}"}, "template"),
        (secret(template("{{ env.TOKEN }}")), {"template": "{{ env.TOKEN }}", "secret": True}, "secret template"),
        (named_function, {"callable": "named_function()"}, "function"),
        (secret(lambda: "x"), {"callable": "<lambda>()", "secret": True}, "secret function"),
    ],
)
def test_how_values_are_stored_in_the_manifest(value, stored, kind: str) -> None:
    assert parameter(value).to_json() == stored
    assert kind_of(value) == kind
