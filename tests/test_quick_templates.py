"""Simple templates are rendered without jinja2, to exactly what jinja2 renders; anything else is
left to jinja2 (None)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestration.rules import quick_templates, templates
from orchestration.rules.context import RunContext

CONTEXT = RunContext(
    namespace="ns",
    task="daily",
    run_id="20261126T023000-3fa2c1",
    scheduled_time=datetime(2026, 11, 26, 2, 30, tzinfo=timezone(timedelta(hours=1))),
    now=datetime(2026, 11, 26, 2, 30, 4, 123456, tzinfo=timezone(timedelta(hours=1))),
    trigger="cron",
    environ={"HOME": "/home/me", "REGION": "eu-west", "items": "x"},
)

RENDERED_WITHOUT_JINJA = [
    "{{ yesterday }}",
    "{{ today }}",
    "{{tomorrow}}",
    "day={{ today }} task={{ task }} in {{ namespace }}\n",
    "{{ scheduled_time }}",
    "{{ now }}",
    "{{ run_id }}-{{ trigger }}",
    "{{ scheduled_time | strftime('%Y-%m-%d') }}",
    '{{ scheduled_time | strftime("%Y-%m-01") }}',
    "{{ (scheduled_time - days(1)) | strftime('%Y%m%d') }}",
    "{{ scheduled_time - hours(2) }}",
    "{{ today + days(7) }}",
    "{{ scheduled_time + minutes(1.5) }}",
    "{{ scheduled_time.year }}/{{ scheduled_time.month }}",
    "{{ env.REGION }}",
    "{{ env['HOME'] }}/backups",
    "{{ 'text' }} and {{ 42 }} and {{ 1.5 }}",
    "{{ 'a' + task }}",
    "no expression at all }} {",
    "",
]
LEFT_TO_JINJA = [
    "{% if true %}x{% endif %}",
    "{# a comment #}",
    "{{- today -}}",
    "{{ today | string }}",
    "{{ env.MISSING }}",
    "{{ env.items }}",
    "{{ unknown }}",
    "{{ today * 2 }}",
    "{{ -1 }}",
    "{{ 'a\\'b' }}",
    "{{ today ~ 'x' }}",
    "{{ days }}",
    "{{ 1e3 }}",
    "{{ true }}",
    "{{ scheduled_time.__class__ }}",
    "{{ 'a' + 1 }}",
    "{{ today",
]


@pytest.mark.parametrize("source", RENDERED_WITHOUT_JINJA)
def test_simple_templates_render_as_jinja2_renders_them(source: str) -> None:
    assert quick_templates.render(source, CONTEXT) == templates.render(source, CONTEXT)


@pytest.mark.parametrize("source", LEFT_TO_JINJA)
def test_everything_else_is_left_to_jinja2(source: str) -> None:
    assert quick_templates.render(source, CONTEXT) is None
