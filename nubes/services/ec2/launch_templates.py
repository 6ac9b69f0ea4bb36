"""Launch templates and their numbered versions ($Latest, $Default); RunInstances takes its
parameters from one, its own parameters winning."""

from __future__ import annotations

import re
from typing import Any

from nubes.core.arns import partition_of, root_arn
from nubes.core.context import RequestContext
from nubes.services.ec2.common import Ec2Base, stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

_NAME = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")
VERSIONS_PER_TEMPLATE = 10000

LT_FILTERS = Filters({"create-time": "@CreateTime", "launch-template-name": "LaunchTemplateName"})
VERSION_FILTERS = Filters(
    {
        "create-time": "@CreateTime",
        "is-default-version": "DefaultVersion",
        "image-id": "LaunchTemplateData.ImageId",
        "instance-type": "LaunchTemplateData.InstanceType",
        "key-name": "LaunchTemplateData.KeyName",
        "ebs-optimized": "LaunchTemplateData.EbsOptimized",
        "disable-api-termination": "LaunchTemplateData.DisableApiTermination",
        "iam-instance-profile": "LaunchTemplateData.IamInstanceProfile.Name",
        "security-group-id": "LaunchTemplateData.SecurityGroupIds",
        "security-group-name": "LaunchTemplateData.SecurityGroups",
    },
    tags=False,
)


class LaunchTemplateMixin(Ec2Base):
    def _template(self, scope: Scope, tid: str | None, name: str | None) -> Record:
        if tid:
            return self.find(scope, "lt", tid)
        if not name:
            raise errors(
                "MissingParameter",
                "The request must contain the parameter launchTemplateName or launchTemplateId",
            )
        for record in self.res.all(scope, "lt"):
            if record.doc["LaunchTemplateName"] == name:
                return record
        raise errors(
            "InvalidLaunchTemplateName.NotFoundException",
            f"The specified launch template, with template name {name}, does not exist.",
        )

    @staticmethod
    def _version_number(template: Record, version: str | None) -> int:
        if version in (None, "", "$Default"):
            return int(template.doc["DefaultVersionNumber"])
        if version == "$Latest":
            return int(template.doc["LatestVersionNumber"])
        text = str(version)
        if not text.isdigit():
            raise errors(
                "InvalidLaunchTemplateId.VersionNotFound",
                f"Could not find launch template version {text} for {template.id}.",
            )
        number = int(text)
        if str(number) not in template.meta["versions"]:
            raise errors(
                "InvalidLaunchTemplateId.VersionNotFound",
                f"Could not find launch template version {number} for {template.id}.",
            )
        return number

    def _version_doc(self, scope: Scope, template: Record, number: int) -> dict[str, Any]:
        version = template.meta["versions"][str(number)]
        doc = {
            "LaunchTemplateId": template.id,
            "LaunchTemplateName": template.doc["LaunchTemplateName"],
            "VersionNumber": number,
            "CreateTime": version["CreateTime"],
            "CreatedBy": root_arn(scope.account, partition_of(scope.region)),
            "DefaultVersion": number == template.doc["DefaultVersionNumber"],
            "LaunchTemplateData": version["LaunchTemplateData"],
        }
        if version.get("VersionDescription"):
            doc["VersionDescription"] = version["VersionDescription"]
        return doc

    @staticmethod
    def _check_data(data: dict[str, Any]) -> None:
        user_data = data.get("UserData")
        if user_data and len(user_data) > 4 * ((16384 + 2) // 3):
            raise errors("InvalidParameterValue", "User data is limited to 16384 bytes")

    def create_launch_template(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        name = params["LaunchTemplateName"]
        if not _NAME.match(name):
            raise errors(
                "InvalidLaunchTemplateName.MalformedException",
                "A launch template name must be between 3 and 128 characters, and may "
                "contain letters, numbers, and the following characters: - ( ) . / _.'",
            )
        if any(r.doc["LaunchTemplateName"] == name for r in self.res.all(scope, "lt")):
            raise errors(
                "InvalidLaunchTemplateName.AlreadyExistsException",
                "Launch template name already in use.",
            )
        data = params.get("LaunchTemplateData") or {}
        self._check_data(data)
        tags = self.tag_specs(params, "launch-template")
        self.dry_run(params)
        tid = self.new_id("lt")
        doc = {
            "LaunchTemplateId": tid,
            "LaunchTemplateName": name,
            "CreateTime": stamp(),
            "CreatedBy": root_arn(scope.account, partition_of(scope.region)),
            "DefaultVersionNumber": 1,
            "LatestVersionNumber": 1,
        }
        meta = {
            "versions": {
                "1": {
                    "LaunchTemplateData": data,
                    "CreateTime": doc["CreateTime"],
                    "VersionDescription": params.get("VersionDescription"),
                }
            }
        }
        record = Record("lt", tid, doc, meta)
        self.save(scope, record)
        self.tag(scope, tid, tags)
        return {"LaunchTemplate": self.with_tags(scope, [record])[0]}

    def create_launch_template_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        template = self._template(
            scope, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        data = dict(params.get("LaunchTemplateData") or {})
        if params.get("SourceVersion"):
            source = self._version_number(template, params["SourceVersion"])
            base = template.meta["versions"][str(source)]["LaunchTemplateData"]
            data = {**base, **data}
        self._check_data(data)
        if len(template.meta["versions"]) >= VERSIONS_PER_TEMPLATE:
            raise errors(
                "VersionLimitExceeded",
                "You have reached the maximum number of versions for this template.",
            )
        self.dry_run(params)
        number = int(template.doc["LatestVersionNumber"]) + 1
        template.meta["versions"][str(number)] = {
            "LaunchTemplateData": data,
            "CreateTime": stamp(),
            "VersionDescription": params.get("VersionDescription"),
        }
        template.doc["LatestVersionNumber"] = number
        self.save(scope, template)
        return {"LaunchTemplateVersion": self._version_doc(scope, template, number)}

    def modify_launch_template(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        template = self._template(
            scope, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        if params.get("DefaultVersion"):
            number = self._version_number(template, params["DefaultVersion"])
            self.dry_run(params)
            template.doc["DefaultVersionNumber"] = number
            self.save(scope, template)
        else:
            self.dry_run(params)
        return {"LaunchTemplate": self.with_tags(scope, [template])[0]}

    def delete_launch_template(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        template = self._template(
            scope, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        self.dry_run(params)
        doc = self.with_tags(scope, [template])[0]
        self.res.delete(scope, "lt", template.id)
        return {"LaunchTemplate": doc}

    def delete_launch_template_versions(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        template = self._template(
            scope, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        self.dry_run(params)
        done, failed = [], []
        name = template.doc["LaunchTemplateName"]
        for version in params.get("Versions") or ():
            item = {"LaunchTemplateId": template.id, "LaunchTemplateName": name}
            key = str(version)
            if key not in template.meta["versions"]:
                failed.append(
                    {
                        **item,
                        "VersionNumber": int(key) if key.isdigit() else 0,
                        "ResponseError": {
                            "Code": "launchTemplateVersionDoesNotExist",
                            "Message": "The specified launch template version does not exist.",
                        },
                    }
                )
            elif int(key) == template.doc["DefaultVersionNumber"]:
                failed.append(
                    {
                        **item,
                        "VersionNumber": int(key),
                        "ResponseError": {
                            "Code": "launchTemplateVersionIsDefaultVersion",
                            "Message": "Cannot delete the default version of a launch template.",
                        },
                    }
                )
            else:
                del template.meta["versions"][key]
                done.append({**item, "VersionNumber": int(key)})
        self.save(scope, template)
        return {
            "SuccessfullyDeletedLaunchTemplateVersions": done,
            "UnsuccessfullyDeletedLaunchTemplateVersions": failed,
        }

    def describe_launch_templates(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        records = None
        if params.get("LaunchTemplateNames"):
            records = [self._template(scope, None, n) for n in params["LaunchTemplateNames"]]
        docs, token = self.describe_kind(
            scope,
            "lt",
            params,
            LT_FILTERS,
            "LaunchTemplateIds",
            records,
            default_limit=200,
            min_limit=1,
        )
        return {"LaunchTemplates": docs, **({"NextToken": token} if token else {})}

    def describe_launch_template_versions(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        template = self._template(
            scope, params.get("LaunchTemplateId"), params.get("LaunchTemplateName")
        )
        wanted = params.get("Versions") or []
        if wanted:
            numbers = [self._version_number(template, v) for v in wanted]
        else:
            numbers = sorted(int(n) for n in template.meta["versions"])
            low = params.get("MinVersion")
            high = params.get("MaxVersion")
            numbers = [
                n for n in numbers if (not low or n >= int(low)) and (not high or n <= int(high))
            ]
        docs = [self._version_doc(scope, template, n) for n in dict.fromkeys(numbers)]
        check = VERSION_FILTERS.compile(params.get("Filters"))
        self.dry_run(params)
        docs = [d for d in docs if check(d)]
        return {"LaunchTemplateVersions": docs}

    def launch_template_params(
        self, scope: Scope, spec: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """RunInstances parameters from a template version, and the tags AWS adds to say so."""
        template = self._template(
            scope, spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName")
        )
        number = self._version_number(template, spec.get("Version"))
        data = dict(template.meta["versions"][str(number)]["LaunchTemplateData"])
        tags = {
            "aws:ec2launchtemplate:id": template.id,
            "aws:ec2launchtemplate:version": str(number),
        }
        return data, tags
