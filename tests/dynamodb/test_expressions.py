"""The expression language on its own: each grammar rule, each function, each documented error."""

from __future__ import annotations

import re
from typing import Any

import pytest

from nubes.protocol.base import ServiceError
from nubes.services.dynamodb.expressions import Expressions, apply_update, matches, project

ITEM: dict[str, Any] = {
    "pk": {"S": "user#1"},
    "age": {"N": "42"},
    "nick": {"S": "bob"},
    "tags": {"SS": ["a", "b"]},
    "scores": {"NS": ["1", "2.5"]},
    "bin": {"B": b"\x01\x02\x03"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "profile": {"M": {"city": {"S": "Paris"}, "langs": {"L": [{"S": "fr"}, {"S": "en"}]}}},
    "arr": {"L": [{"N": "1"}, {"S": "two"}, {"M": {"x": {"N": "3"}}}]},
}

VALUES: dict[str, Any] = {
    ":n42": {"N": "42"},
    ":n40": {"N": "40"},
    ":n50": {"N": "50"},
    ":bob": {"S": "bob"},
    ":b": {"S": "b"},
    ":a": {"S": "a"},
    ":x": {"S": "x"},
    ":S": {"S": "S"},
    ":SS": {"S": "SS"},
    ":M": {"S": "M"},
    ":paris": {"S": "Paris"},
    ":fr": {"S": "fr"},
    ":two": {"S": "two"},
    ":three": {"N": "3"},
    ":n2": {"N": "2.50"},
    ":bin": {"B": b"\x01\x02"},
}


def message(fn: Any) -> str:
    with pytest.raises(ServiceError) as info:
        fn()
    assert info.value.code == "ValidationException"
    return info.value.message


def cond(text: str, names: dict[str, str] | None = None) -> bool:
    refs = set(re.findall(r":\w+", text))
    used = {k: v for k, v in VALUES.items() if k in refs}
    exprs = Expressions(names, used or None)
    tree = exprs.condition(text)
    exprs.finish()
    return matches(tree, ITEM)


# --- comparators, BETWEEN, IN ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age = :n42", True),
        ("age <> :n42", False),
        ("age < :n50", True),
        ("age <= :n42", True),
        ("age > :n40", True),
        ("age >= :n50", False),
        ("nick = :bob", True),
        ("nick > :a", True),
        ("age = :bob", False),  # different types never equal
        ("age < :bob", False),  # nor ordered
        ("absent <> :bob", True),
        ("absent = :bob", False),
        ("age BETWEEN :n40 AND :n50", True),
        ("age BETWEEN :n40 AND :n42", True),
        ("nick BETWEEN :a AND :b", False),
        ("age IN (:n40, :n42)", True),
        ("nick IN (:a, :b)", False),
        ("profile.city = :paris", True),
        ("profile.langs[0] = :fr", True),
        ("arr[1] = :two", True),
        ("arr[2].x = :three", True),
        ("arr[9] = :two", False),
    ],
)
def test_comparisons(text: str, expected: bool) -> None:
    assert cond(text) is expected


def test_numbers_compare_by_value() -> None:
    exprs = Expressions(None, {":v": {"N": "42.000"}})
    assert matches(exprs.condition("age = :v"), ITEM)


# --- logical operators and precedence -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age = :n42 AND nick = :bob", True),
        ("age = :n40 OR nick = :bob", True),
        ("NOT age = :n40", True),
        # AND binds tighter than OR: true OR (false AND false)
        ("nick = :bob OR age = :n40 AND nick = :a", True),
        # parentheses override: (true OR false) AND false
        ("(nick = :bob OR age = :n40) AND nick = :a", False),
        # NOT binds tighter than AND
        ("NOT nick = :a AND age = :n42", True),
        ("NOT (nick = :bob AND age = :n42)", False),
        ("not nick = :a and age = :n42", True),
    ],
)
def test_logic(text: str, expected: bool) -> None:
    assert cond(text) is expected


# --- functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attribute_exists(age)", True),
        ("attribute_exists(absent)", False),
        ("attribute_not_exists(absent)", True),
        ("attribute_exists(profile.langs[1])", True),
        ("attribute_exists(profile.langs[5])", False),
        ("attribute_type(nick, :S)", True),
        ("attribute_type(tags, :SS)", True),
        ("attribute_type(profile, :M)", True),
        ("attribute_type(age, :S)", False),
        ("begins_with(pk, :x)", False),
        ("begins_with(nick, :b)", True),
        ("begins_with(bin, :bin)", True),
        ("contains(nick, :b)", True),
        ("contains(tags, :a)", True),
        ("contains(tags, :x)", False),
        ("contains(scores, :n2)", True),
        ("contains(profile.langs, :fr)", True),
        ("contains(arr, :two)", True),
        ("size(nick) = :three", True),
        ("size(tags) < :three", True),
        ("size(profile) < :three", True),
        ("size(arr) = :three", True),
        ("size(age) = :three", False),
        ("size(absent) = :three", False),
    ],
)
def test_functions(text: str, expected: bool) -> None:
    assert cond(text) is expected


def test_names_are_substituted() -> None:
    assert cond("#s = :bob AND #p.#c = :paris", {"#s": "nick", "#p": "profile", "#c": "city"})


# --- condition errors --------------------------------------------------------------------------


def test_reserved_word_rejected() -> None:
    assert message(lambda: Expressions(None, {":v": {"S": "x"}}).condition("name = :v")) == (
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    )


def test_reserved_word_case_insensitive_and_escapable() -> None:
    assert "reserved keyword: Status" in message(
        lambda: Expressions(None, {":v": {"S": "x"}}).condition("Status = :v")
    )
    exprs = Expressions({"#s": "status"}, {":v": {"S": "x"}})
    exprs.condition("#s = :v")
    exprs.finish()


def test_undefined_value() -> None:
    assert message(lambda: Expressions(None, {":v": {"S": "x"}}).condition("a = :w")) == (
        "1 validation error detected: Invalid ConditionExpression: An expression attribute value "
        "used in expression is not defined; attribute value: :w"
    )


def test_undefined_name() -> None:
    assert message(lambda: Expressions({"#a": "a"}, None).condition("attribute_exists(#b)")) == (
        "Invalid ConditionExpression: An expression attribute name used in the document path is "
        "not defined; attribute name: #b"
    )


def test_unused_values_and_names() -> None:
    exprs = Expressions(None, {":v": {"S": "x"}, ":w": {"S": "y"}})
    exprs.condition("a = :v")
    assert message(exprs.finish) == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    )
    exprs = Expressions({"#a": "a", "#b": "b"}, None)
    exprs.condition("attribute_exists(#a)")
    assert message(exprs.finish) == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    )


def test_names_or_values_without_expressions() -> None:
    assert message(lambda: Expressions({"#a": "a"}, None, any_expression=False)) == (
        "1 validation error detected: "
        "ExpressionAttributeNames can only be specified when using expressions"
    )
    assert message(lambda: Expressions(None, {":a": {"S": "a"}}, any_expression=False)) == (
        "1 validation error detected: "
        "ExpressionAttributeValues can only be specified when using expressions"
    )


def test_empty_maps_and_bad_keys() -> None:
    assert message(lambda: Expressions({}, None)) == "ExpressionAttributeNames must not be empty"
    assert message(lambda: Expressions(None, {})) == "ExpressionAttributeValues must not be empty"
    assert message(lambda: Expressions(None, {"v": {"S": "x"}})) == (
        'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"'
    )


@pytest.mark.parametrize(
    ("text", "token", "near"),
    [
        ("a = ", "<EOF>", "= "),
        ("a == :v", "=", "== :v"),
        ("a = :v AND", "<EOF>", "AND"),
        ("a BETWEEN :v", "<EOF>", ":v"),
        ("(a = :v", "<EOF>", ":v"),
        ("a = :v)", ")", ":v)"),
        ("a-b = :v", "-", "a-b"),
        ("a = :v ; b", ";", ":v ; b"),
    ],
)
def test_syntax_errors(text: str, token: str, near: str) -> None:
    assert message(lambda: Expressions(None, {":v": {"S": "x"}}).condition(text)) == (
        f'Invalid ConditionExpression: Syntax error; token: "{token}", near: "{near}"'
    )


def test_empty_expression() -> None:
    assert message(lambda: Expressions(None, None).condition("  ")) == (
        "Invalid ConditionExpression: The expression can not be empty;"
    )
    assert message(lambda: Expressions(None, None).condition("")) == (
        "1 validation error detected: Invalid ConditionExpression: The expression can not be empty;"
    )


def test_function_errors() -> None:
    def check(text: str) -> str:
        return message(lambda: Expressions(None, {":v": {"S": "x"}}).condition(text))

    assert (
        check("foo(a) = :v") == "Invalid ConditionExpression: Invalid function name; function: foo"
    )
    assert check("begins_with(a)") == (
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
        "operator or function: begins_with, number of operands: 1"
    )
    assert check("size(a)") == (
        "Invalid ConditionExpression: The function is not allowed to be used this way in an "
        "expression; function: size"
    )
    assert check("attribute_exists(:v)") == (
        "Invalid ConditionExpression: Operator or function requires a document path; "
        "operator or function: attribute_exists"
    )
    assert check("attribute_type(a, :v)") == (
        "Invalid ConditionExpression: Invalid attribute type name found; type: x, valid types: "
        "{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }"
    )
    assert check("a = if_not_exists(b, :v)") == (
        "Invalid ConditionExpression: The function is not allowed in a condition expression; "
        "function: if_not_exists"
    )


def test_between_bounds_order() -> None:
    exprs = Expressions(None, {":lo": {"N": "5"}, ":hi": {"N": "1"}})
    assert message(lambda: exprs.condition("a BETWEEN :lo AND :hi")) == (
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
        "than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound "
        "operand: AttributeValue: {N:1}"
    )


def test_between_bounds_of_different_types() -> None:
    exprs = Expressions(None, {":lo": {"N": "1"}, ":hi": {"S": "a"}})
    assert message(lambda: exprs.condition("a BETWEEN :lo AND :hi")) == (
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and "
        "upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: "
        "AttributeValue: {S:a}"
    )


@pytest.mark.parametrize(
    ("expression", "value", "op", "kind"),
    [
        ("a < :v", {"BOOL": True}, "<", "BOOL"),
        (":v >= a", {"L": []}, ">=", "L"),
        ("a BETWEEN :v AND :v", {"NULL": True}, "BETWEEN", "NULL"),
        ("a > :v", {"SS": ["x"]}, ">", "SS"),
    ],
)
def test_ordering_an_unordered_type_is_refused(
    expression: str, value: dict[str, Any], op: str, kind: str
) -> None:
    exprs = Expressions(None, {":v": value})
    assert message(lambda: exprs.condition(expression)) == (
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        f"operator or function: {op}, operand type: {kind}"
    )


def test_equality_with_any_type_is_a_condition() -> None:
    exprs = Expressions(None, {":v": {"BOOL": True}})
    exprs.condition("a = :v")
    exprs.condition("a <> :v")


def test_filter_expression_kind_in_messages() -> None:
    assert message(lambda: Expressions(None, None).condition("a = ", "FilterExpression")) == (
        'Invalid FilterExpression: Syntax error; token: "<EOF>", near: "= "'
    )


# --- projections -------------------------------------------------------------------------------


def test_projection() -> None:
    exprs = Expressions({"#p": "profile"}, None)
    paths = exprs.projection("nick, #p.city, arr[2], arr[0], absent, profile.langs[1]")
    exprs.finish()
    assert project(ITEM, paths) == {
        "nick": {"S": "bob"},
        "profile": {"M": {"city": {"S": "Paris"}, "langs": {"L": [{"S": "en"}]}}},
        "arr": {"L": [{"N": "1"}, {"M": {"x": {"N": "3"}}}]},
    }


def test_projection_overlap() -> None:
    assert message(lambda: Expressions(None, None).projection("a, a.b")) == (
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove "
        "or rewrite one of these paths; path one: [a], path two: [a, b]"
    )


def test_projection_reserved() -> None:
    assert "reserved keyword: size" in message(lambda: Expressions(None, None).projection("size"))


# --- updates -----------------------------------------------------------------------------------


def update(text: str, item: dict[str, Any], values: dict[str, Any] | None = None) -> Any:
    exprs = Expressions(None, values)
    tree = exprs.update(text)
    exprs.finish()
    return apply_update(tree, item)


def test_set_arithmetic_and_functions() -> None:
    values = {":one": {"N": "1"}, ":l": {"L": [{"S": "z"}]}, ":zero": {"N": "0"}}
    out = update(
        "SET age = age + :one, c = if_not_exists(c, :zero) - :one, "
        "profile.langs = list_append(profile.langs, :l), n2 = list_append(:l, arr)",
        ITEM,
        values,
    )
    assert out["age"] == {"N": "43"}
    assert out["c"] == {"N": "-1"}
    assert out["profile"]["M"]["langs"]["L"][-1] == {"S": "z"}
    assert out["n2"]["L"][0] == {"S": "z"} and len(out["n2"]["L"]) == 4
    assert ITEM["age"] == {"N": "42"}  # the input item is left alone


def test_set_reads_the_old_item() -> None:
    out = update("SET a = b, b = a", {"a": {"N": "1"}, "b": {"N": "2"}})
    assert out == {"a": {"N": "2"}, "b": {"N": "1"}}


def test_set_parenthesised_arithmetic_and_list_index() -> None:
    item = {"n": {"N": "10"}, "l": {"L": [{"N": "1"}]}}
    out = update("SET n = (n - :one), l[0] = :one, l[5] = :one", item, {":one": {"N": "1"}})
    assert out["n"] == {"N": "9"}
    assert out["l"] == {"L": [{"N": "1"}, {"N": "1"}]}  # past the end appends


def test_remove_including_list_indexes() -> None:
    item = {"a": {"S": "x"}, "l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "3"}]}}
    out = update("REMOVE a, l[1], l[3], absent", item)
    assert out == {"l": {"L": [{"N": "0"}, {"N": "2"}]}}


def test_add_and_delete() -> None:
    item = {"n": {"N": "1.5"}, "s": {"SS": ["a", "b"]}, "ns": {"NS": ["1"]}}
    out = update(
        "ADD n :two, s :sc, ns :ns, fresh :two DELETE gone :sa",
        item,
        {
            ":two": {"N": "2"},
            ":sc": {"SS": ["b", "c"]},
            ":ns": {"NS": ["1.0", "2"]},
            ":sa": {"SS": ["a"]},
        },
    )
    assert out["n"] == {"N": "3.5"}
    assert out["s"] == {"SS": ["a", "b", "c"]}
    assert out["ns"] == {"NS": ["1", "2"]}
    assert out["fresh"] == {"N": "2"}
    out = update("DELETE s :ab", item, {":ab": {"SS": ["a", "b"]}})
    assert "s" not in out  # an emptied set is removed


def test_update_type_errors() -> None:
    assert message(lambda: update("SET a = a + :one", {"a": {"S": "x"}}, {":one": {"N": "1"}})) == (
        "An operand in the update expression has an incorrect data type"
    )
    assert message(lambda: update("ADD a :one", {"a": {"S": "x"}}, {":one": {"N": "1"}})) == (
        "An operand in the update expression has an incorrect data type"
    )
    assert message(lambda: update("ADD a :s", {}, {":s": {"S": "x"}})) == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: ADD, operand type: STRING"
    )
    assert message(lambda: update("DELETE a :n", {}, {":n": {"N": "1"}})) == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator: DELETE, operand type: NUMBER"
    )
    assert message(lambda: update("SET a = list_append(a, :s)", {}, {":s": {"S": "x"}})) == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator or function: list_append, operand type: S"
    )


def test_overlaps_reported_before_conflicts() -> None:
    values = {":v": {"N": "1"}}
    assert message(lambda: update("SET d[1] = :v, d.b = :v, c[1].a = :v, c = :v", {}, values)) == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
        "rewrite one of these paths; path one: [c, [1], a], path two: [c]"
    )


def test_arithmetic_on_literal_of_wrong_type() -> None:
    assert message(lambda: update("SET a = a + :s", {}, {":s": {"S": "x"}})) == (
        "Invalid UpdateExpression: Incorrect operand type for operator or function; "
        "operator or function: +, operand type: S"
    )


@pytest.mark.parametrize(
    "text",
    [
        "REMOVE s.a",  # s is a string
        "REMOVE absent.a",
        "REMOVE m[1]",  # m is a map
        "REMOVE l.a",  # l is a list
        "DELETE absent.a :ss",
        "ADD absent.a :ss",
        "SET absent[1] = :ss",
    ],
)
def test_nested_paths_need_their_container(text: str) -> None:
    item = {"s": {"S": "x"}, "m": {"M": {}}, "l": {"L": []}}
    values = {":ss": {"SS": ["a"]}} if ":ss" in text else None
    assert message(lambda: update(text, item, values)) == (
        "The document path provided in the update expression is invalid for update"
    )


def test_list_append_on_stored_non_list() -> None:
    item = {"ns": {"NS": ["1"]}}
    assert message(lambda: update("SET e = list_append(ns, :l)", item, {":l": {"L": []}})) == (
        "An operand in the update expression has an incorrect data type"
    )


def test_update_missing_operand_and_bad_path() -> None:
    assert message(lambda: update("SET a = b + :one", {}, {":one": {"N": "1"}})) == (
        "The provided expression refers to an attribute that does not exist in the item"
    )
    assert message(lambda: update("SET a.b = :one", {}, {":one": {"N": "1"}})) == (
        "The document path provided in the update expression is invalid for update"
    )


def test_update_overlapping_paths() -> None:
    values = {":v": {"N": "1"}}
    assert message(lambda: update("SET a = :v, a.b = :v", {}, values)) == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
        "rewrite one of these paths; path one: [a], path two: [a, b]"
    )
    assert message(lambda: update("SET a = :v REMOVE a", {}, values)) == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
        "rewrite one of these paths; path one: [a], path two: [a]"
    )
    assert message(lambda: update("SET a[1] = :v, a.b = :v", {}, values)) == (
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
        "rewrite one of these paths; path one: [a, [1]], path two: [a, b]"
    )


def test_update_syntax_errors() -> None:
    values = {":v": {"N": "1"}, ":incr": {"N": "1"}}
    assert message(lambda: update("INVALID SYNTAX HERE", {}, values)) == (
        'Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"'
    )
    assert message(lambda: update("ADD hits : incr", {}, values)) == (
        'Invalid UpdateExpression: Syntax error; token: ":", near: "hits : incr"'
    )
    assert message(lambda: update("SET a = :v,", {}, values)) == (
        'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: ","'
    )
    assert message(lambda: update("SET a = :v SET b = :v", {}, values)) == (
        'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'
    )
    assert message(lambda: update("", {}, None)) == (
        "1 validation error detected: Invalid UpdateExpression: The expression can not be empty;"
    )


def test_update_functions_in_wrong_place() -> None:
    assert message(lambda: update("SET a = size(b)", {}, None)) == (
        "Invalid UpdateExpression: The function is not allowed in an update expression; "
        "function: size"
    )
    assert message(lambda: update("SET a = if_not_exists(:v, :v)", {}, {":v": {"N": "1"}})) == (
        "Invalid UpdateExpression: Operator or function requires a document path; "
        "operator or function: if_not_exists"
    )


# --- key conditions ----------------------------------------------------------------------------


HASH = ("pk", "S")
RANGE = ("sk", "N")


def key(text: str, values: dict[str, Any]) -> Any:
    exprs = Expressions(None, values)
    result = exprs.key_condition(text, [HASH], [RANGE])
    exprs.finish()
    return result


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("pk = :p", None),
        ("pk = :p AND sk = :a", "="),
        ("sk < :a AND pk = :p", "<"),
        (":a <= sk AND pk = :p", ">="),
        ("pk = :p AND sk BETWEEN :a AND :b", "BETWEEN"),
        ("pk = :p AND begins_with(sk, :a)", "begins_with"),
    ],
)
def test_key_conditions(text: str, op: str | None) -> None:
    values = {":p": {"S": "x"}, ":a": {"N": "1"}, ":b": {"N": "2"}}
    refs = set(re.findall(r":\w+", text))
    used = {k: v for k, v in values.items() if k in refs}
    if op == "begins_with":
        assert "begins_with, operand type: N" in message(lambda: key(text, used))
        return
    assert key(text, used).op == op


def test_key_condition_errors() -> None:
    p = {":p": {"S": "x"}}
    assert message(lambda: key("sk = :a", {":a": {"N": "1"}})) == (
        "Query condition missed key schema element: pk"
    )
    assert message(lambda: key("pk < :p", p)) == "Query key condition not supported"
    assert message(lambda: key("pk = :p OR pk = :p", p)) == (
        "Invalid operator used in KeyConditionExpression: OR"
    )
    assert message(lambda: key("pk = :p AND extra = :p", p)) == (
        "Query condition missed key schema element: sk"
    )
    assert message(lambda: key("pk = :p AND sk = :a AND extra = :a", {**p, ":a": {"N": "1"}})) == (
        "The number of query conditions (3) exceeds the number of key attributes defined in the "
        "schema (2)"
    )
    assert message(lambda: key("pk = :n", {":n": {"N": "1"}})) == (
        "One or more parameter values were invalid: Condition parameter type does not match "
        "schema type"
    )
    assert message(lambda: key("pk = :p AND pk = :p", p)) == (
        "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition "
        "per key"
    )


def test_expression_size_limit() -> None:
    text = "attribute_exists(a)" + " OR attribute_exists(a)" * 200
    size = len(text)
    assert size > 4096
    assert message(lambda: Expressions(None, None).condition(text, "FilterExpression")) == (
        "Invalid FilterExpression: Expression size has exceeded the maximum allowed size; "
        f"expression size: {size}"
    )
