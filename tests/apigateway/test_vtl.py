"""The VTL interpreter on its own (pure logic)."""

from __future__ import annotations

import json

from nubes.runtime.apigateway.vtl import json_path, render

CONTEXT = {
    "context": {"stage": "dev", "requestId": "r-1"},
    "stageVariables": {"v": "1"},
    "params": {"path": {"id": "7"}, "querystring": {"q": "x y"}, "header": {"h": "H"}},
}


def test_references_and_directives() -> None:
    body = json.dumps({"items": [{"n": 1}, {"n": 2}, {"n": 3}], "name": 'A "quoted" name'})
    template = (
        "#set($total = 0)"
        "#foreach($item in $input.path('$.items'))#set($total = $total + $item.n)#end"
        '{"total": $total, "id": "$input.params(\'id\')", '
        '"q": "$util.urlEncode($input.params(\'q\'))", '
        '"name": "$util.escapeJavaScript($input.path(\'$.name\'))", '
        "\"count\": $input.path('$.items').size(), "
        '"stage": "${context.stage}", "v": "$stageVariables.v", "missing": "$!nothing"}'
    )
    out = json.loads(render(template, body, CONTEXT))
    assert out == {
        "total": 6,
        "id": "7",
        "q": "x+y",
        "name": 'A "quoted" name',
        "count": 3,
        "stage": "dev",
        "v": "1",
        "missing": "",
    }


def test_conditions_and_maps() -> None:
    template = (
        "## a comment\n"
        '#set($m = {"a": 1, "b": [1, 2]})'
        "#if($m.a == 1 && !$m.c)yes#elseif($m.a > 1)no#else maybe#end|"
        "#foreach($k in $m.keySet())$k#if($foreach.hasNext),#end#end|"
        "$util.base64Decode($util.base64Encode('hi'))|$input.json('$')"
    )
    assert render(template, '{"x": [1]}', CONTEXT) == 'yes|a,b|hi|{"x": [1]}'


def test_json_path() -> None:
    doc = {"a": {"b": [10, {"c": "d"}]}, "x-y": 1}
    assert json_path(doc, "$.a.b[1].c") == "d"
    assert json_path(doc, "$['x-y']") == 1
    assert json_path(doc, "$.missing.deeper") is None
    assert json_path(doc, "$") == doc
