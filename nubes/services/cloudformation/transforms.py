"""Template transforms: AWS::Include snippets, AWS::LanguageExtensions (Fn::ForEach) and SAM
(``AWS::Serverless-2016-10-31``, expanded by the aws-sam-translator library)."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from nubes.protocol.base import ServiceError
from nubes.services.cloudformation import template as tpl
from nubes.services.cloudformation.errors import validation

if TYPE_CHECKING:
    from nubes.core.context import RequestContext
    from nubes.services.cloudformation.provider import CloudFormationProvider

SAM = "AWS::Serverless-2016-10-31"
LANGUAGE = "AWS::LanguageExtensions"
INCLUDE = "AWS::Include"
FOR_EACH = "Fn::ForEach::"

Json = dict[str, Any]


def expand(
    provider: CloudFormationProvider, ctx: RequestContext, template: Json, raw: dict[str, str]
) -> Json:
    """The template with its transforms applied, in the order it declares them."""
    if not tpl.transforms(template) and not _has_include(template):
        return template
    out = _includes(provider, ctx, copy.deepcopy(template))
    declared = out.get("Transform")
    items = declared if isinstance(declared, list) else [declared] if declared else []
    for name in items:
        if isinstance(name, dict) and name.get("Name") == INCLUDE:
            continue
        if name == LANGUAGE:
            out = language_extensions(out, raw)
        elif name == SAM:
            out = sam(provider, ctx, out, raw)
        else:
            raise validation(f"No transform named {ctx.account_id}::{name} found.")
    out.pop("Transform", None)
    return out


def _has_include(value: Any) -> bool:
    if isinstance(value, dict):
        return "Fn::Transform" in value or any(_has_include(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_include(v) for v in value)
    return False


def _includes(provider: CloudFormationProvider, ctx: RequestContext, value: Any) -> Any:
    if isinstance(value, dict):
        transform = value.get("Fn::Transform")
        if isinstance(transform, dict) and transform.get("Name") == INCLUDE:
            location = (transform.get("Parameters") or {}).get("Location")
            if not isinstance(location, str):
                raise validation("Transform AWS::Include failed with: Location is required")
            snippet = tpl.parse(provider.read_url(ctx, location))
            rest = {k: v for k, v in value.items() if k != "Fn::Transform"}
            return _includes(provider, ctx, {**snippet, **rest})
        return {k: _includes(provider, ctx, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_includes(provider, ctx, v) for v in value]
    return value


# -- AWS::LanguageExtensions ---------------------------------------------------------------------


def language_extensions(template: Json, raw: dict[str, str]) -> Json:
    params = template.get("Parameters") or {}

    def collection(value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(v) for v in value]
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in params:
            name = value["Ref"]
            text = raw.get(name)
            if text is None:
                default = params[name].get("Default", "")
                text = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            return [v.strip() for v in text.split(",") if v.strip()]
        raise validation(
            "Transform AWS::LanguageExtensions failed with: Fn::ForEach collection must be a "
            "list or a Ref to a CommaDelimitedList parameter"
        )

    def section(block: Json) -> Json:
        out: Json = {}
        for key, value in block.items():
            if not key.startswith(FOR_EACH):
                out[key] = value
                continue
            if not isinstance(value, list) or len(value) != 3 or not isinstance(value[2], dict):
                raise validation(
                    f"Transform AWS::LanguageExtensions failed with: {key} must be a list of "
                    "the identifier, the collection and the output template"
                )
            identifier, items, body = value
            for item in collection(items):
                expanded = _substitute(body, str(identifier), item)
                out.update(section(expanded))
        return out

    out = dict(template)
    for name in ("Resources", "Outputs", "Conditions"):
        if isinstance(out.get(name), dict):
            out[name] = section(out[name])
    return out


def _substitute(value: Any, identifier: str, item: str) -> Any:
    plain = re.sub(r"[^A-Za-z0-9]", "", item)
    if isinstance(value, dict):
        if value == {"Ref": identifier}:
            return item
        out: Json = {}
        for key, inner in value.items():
            key = key.replace("${" + identifier + "}", item).replace("&{" + identifier + "}", plain)
            out[key] = _substitute(inner, identifier, item)
        return out
    if isinstance(value, list):
        return [_substitute(v, identifier, item) for v in value]
    if isinstance(value, str):
        return value.replace("${" + identifier + "}", item).replace("&{" + identifier + "}", plain)
    return value


# -- SAM -----------------------------------------------------------------------------------------


def sam(
    provider: CloudFormationProvider, ctx: RequestContext, template: Json, raw: dict[str, str]
) -> Json:
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.transform import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )
    from samtranslator.translator.translator import Translator

    known: dict[str, str] = {}

    def policies() -> dict[str, str]:
        """AWS's managed policies as nubes' IAM lists them (asked only when a template names
        one by name)."""
        if not known:
            found: dict[str, str] = {}
            marker = None
            while True:
                params: Json = {"Scope": "AWS", "MaxItems": 1000}
                if marker:
                    params["Marker"] = marker
                try:
                    out = provider.env.providers.invoke(
                        "iam", "ListPolicies", params, ctx.account_id, ctx.region
                    )
                except ServiceError:
                    break
                found.update((p["PolicyName"], p["Arn"]) for p in out.get("Policies", []))
                marker = out.get("Marker")
                if not out.get("IsTruncated") or not marker:
                    break
            known.update(found)
        return known

    values: Json = dict(raw)
    values.setdefault("AWS::Region", ctx.region)
    values.setdefault("AWS::AccountId", ctx.account_id)
    values.setdefault("AWS::Partition", ctx.partition)
    # The region comes from a session: the translator asks boto3 for it (and for the services
    # each region has) rather than taking it from the parameters.
    session = boto3.session.Session(
        aws_access_key_id="nubes", aws_secret_access_key="nubes", region_name=ctx.region
    )
    try:
        to_py27_compatible_template(template, values)
        translator = Translator(None, Parser(), boto_session=session)
        translated: Json = undo_mark_unicode_str_in_template(
            translator.translate(template, parameter_values=values, get_managed_policy_map=policies)
        )
    except InvalidDocumentException as exc:
        causes = " ".join(str(c.message) for c in getattr(exc, "causes", []))
        raise validation(f"Transform {SAM} failed with: {exc.message} {causes}".strip()) from None
    except Exception as exc:
        raise validation(f"Transform {SAM} failed with: {exc}") from None
    return translated
