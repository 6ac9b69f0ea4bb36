"""The console's HTML: one page layout, tables, forms and an SVG line chart. Server-rendered,
no asset from anywhere but nubes itself."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

STYLE = """
body{font:14px system-ui,sans-serif;margin:0;color:#16191f;background:#f2f3f3}
header{background:#232f3e;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:center}
header a{color:#fff;text-decoration:none} header .who{margin-left:auto;font-size:12px}
nav{background:#fff;border-bottom:1px solid #ddd;padding:6px 18px;display:flex;gap:14px;
flex-wrap:wrap} nav a{color:#0972d3;text-decoration:none}
main{padding:16px 18px} h1{font-size:20px;margin:4px 0 12px} h2{font-size:16px}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:16px}
th,td{border-bottom:1px solid #e9ebed;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600} a{color:#0972d3}
pre{background:#fff;border:1px solid #e9ebed;padding:8px;overflow:auto;max-height:420px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e9ebed;padding:12px;border-radius:6px}
.card b{font-size:22px;display:block} .muted{color:#5f6b7a} .error{color:#d91515}
form.inline{display:inline} textarea{width:100%;height:90px;font-family:monospace}
.state-ALARM{color:#d91515;font-weight:600} .state-OK{color:#037f0c;font-weight:600}
"""

LIVE = """
(function(){var main=document.getElementById('main');if(!main||main.dataset.live!=='1')return;
setInterval(function(){if(document.activeElement&&/INPUT|TEXTAREA|SELECT/.test(
document.activeElement.tagName))return;var u=new URL(location.href);
u.searchParams.set('fragment','1');fetch(u,{credentials:'same-origin'}).then(function(r){
return r.ok?r.text():null}).then(function(t){if(t!==null&&t!==main.innerHTML){
main.innerHTML=t}})},3000)})();
"""

BASE = "/_nubes/console"


def link(path: str, text: str, **query: str) -> str:
    q = {k: v for k, v in query.items() if v}
    href = f"{BASE}{path}" + (f"?{urlencode(q)}" if q else "")
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "None.") -> str:
    """Cells are escaped unless they are ``Markup``."""
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """HTML that is already safe (links made by ``link``)."""


def cell(value: Any) -> str:
    if isinstance(value, Markup):
        return str(value)
    return escape("" if value is None else str(value))


def page(
    title: str,
    content: str,
    *,
    services: Sequence[str],
    who: str,
    region: str,
    live: bool = True,
) -> str:
    nav = "".join(link(f"/{s}", s, region=region) for s in services)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)} · nubes console</title><style>{STYLE}</style></head><body>"
        f"<header>{link('', 'nubes console', region=region)}"
        f"<form class='inline' method='get'><select name='region' onchange='this.form.submit()'>"
        + "".join(
            f"<option{' selected' if r == region else ''}>{r}</option>"
            for r in sorted({region, *REGIONS})
        )
        + f"</select></form><span class='who'>{escape(who)} · "
        f"{link('/logout', 'sign out')}</span></header>"
        f"<nav>{nav}</nav>"
        f"<main id='main' data-live='{1 if live else 0}'>{content}</main>"
        f"<script>{LIVE}</script></body></html>"
    )


REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
)


def chart(points: Sequence[tuple[float, float]], width: int = 640, height: int = 180) -> str:
    """A line chart of (time, value) points as inline SVG."""
    if not points:
        return '<p class="muted">No datapoints in the last three hours.</p>'
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = min(0.0, min(ys)), max(ys)
    xspan = (x1 - x0) or 1
    yspan = (y1 - y0) or 1
    scale_x, scale_y = (width - 40) / xspan, (height - 40) / yspan
    coords = " ".join(
        f"{(x - x0) * scale_x + 30:.1f},{height - 20 - (y - y0) * scale_y:.1f}" for x, y in points
    )
    return (
        f"<svg role='img' aria-label='metric chart' width='{width}' height='{height}' "
        f"style='background:#fff;border:1px solid #e9ebed'>"
        f"<text x='4' y='14' font-size='11'>{y1:g}</text>"
        f"<text x='4' y='{height - 6}' font-size='11'>{y0:g}</text>"
        f"<polyline fill='none' stroke='#0972d3' stroke-width='2' points='{coords}'/></svg>"
    )
