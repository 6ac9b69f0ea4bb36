"""Managed policies (customer and AWS managed) with their versions and attachments, inline
policies of users, groups and roles, and the policy simulator."""

from __future__ import annotations

import uuid
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.iam.common import (
    IamBase,
    aws_managed_arns,
    aws_managed_policy,
    encoded,
    is_aws_policy,
    iso,
    now,
    page_across,
    paginate_list,
    timestamp,
    validate_document,
)
from nubes.services.iam.errors import errors
from nubes.services.iam.policy import Caller, Policy, Request, evaluate, parse_policy
from nubes.services.iam.policy.document import Kind, statement_positions

MANAGED_POLICY_LIMIT = 6144
MAX_VERSIONS = 5
ATTACHED_PER_ENTITY = 10
INLINE_LIMITS = {"user": 2048, "role": 10240, "group": 5120}
_OWNER_WORD = {"user": "user", "group": "group", "role": "role"}

PolicySource = tuple[str, str, str]
"""(policy id as the simulator names it, source type, document)."""


class PolicyOperations(IamBase):
    # -- managed policy records -------------------------------------------------------------

    def find_policy(self, ctx: RequestContext, arn: str) -> dict[str, Any] | None:
        if is_aws_policy(arn):
            found = aws_managed_policy(arn)
            if found is None:
                return None
            return {
                "arn": arn,
                "name": found["name"],
                "id": found["id"],
                "path": found["path"],
                "default": found["version"],
                "description": found.get("description"),
                "created": iso(found["created"]),
                "updated": iso(found["updated"]),
                "aws": True,
            }
        entity = self.iam.by_arn(arn)
        if entity is None or entity.kind != "policy" or entity.account != ctx.account_id:
            return None
        return {
            "arn": entity.arn,
            "name": entity.name,
            "id": entity.id,
            "path": entity.path,
            "default": entity.data["default"],
            "description": entity.data.get("description"),
            "created": entity.created,
            "updated": entity.data.get("updated", entity.created),
            "aws": False,
            "entity": entity,
        }

    def require_policy(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        found = self.find_policy(ctx, arn)
        if found is None:
            raise errors.NoSuchEntityException(f"Policy {arn} does not exist or is not attachable.")
        return found

    def _get_policy(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        found = self.find_policy(ctx, arn)
        if found is None:
            raise errors.NoSuchEntityException(f"Policy {arn} was not found.")
        return found

    def _customer_policy(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        found = self._get_policy(ctx, arn)
        if found["aws"]:
            raise errors.InvalidInputException(
                f"ARN {arn} is not valid: AWS managed policies cannot be modified."
            )
        return found

    def policy_document(self, ctx: RequestContext, info: dict[str, Any]) -> str:
        if info["aws"]:
            return str((aws_managed_policy(info["arn"]) or {})["text"])
        row = self.iam.version(info["arn"], info["default"])
        return str(row["document"]) if row else "{}"

    def policy_out(
        self, ctx: RequestContext, info: dict[str, Any], full: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "PolicyName": info["name"],
            "PolicyId": info["id"],
            "Arn": info["arn"],
            "Path": info["path"],
            "DefaultVersionId": info["default"],
            "AttachmentCount": self._attachments(ctx.account_id, info["arn"]),
            "PermissionsBoundaryUsageCount": len(
                self.iam.sources(ctx.account_id, "boundary", info["arn"])
            ),
            "IsAttachable": True,
            "CreateDate": timestamp(info["created"]),
            "UpdateDate": timestamp(info["updated"]),
        }
        if full and info.get("description"):
            out["Description"] = info["description"]
        if full and not info["aws"]:
            tags = self.tag_list(info["arn"])
            if tags:
                out["Tags"] = tags
        return out

    def _attachments(self, account: str, arn: str) -> int:
        return sum(
            len(self.iam.sources(account, f"attached:{kind}", arn))
            for kind in ("user", "group", "role")
        )

    # -- managed policies -------------------------------------------------------------------

    def create_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        document = validate_document(
            req["PolicyDocument"],
            "identity",
            MANAGED_POLICY_LIMIT,
            f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_LIMIT}",
        )
        data: dict[str, Any] = {"default": "v1", "next": 2}
        if req.get("Description"):
            data["description"] = req["Description"]
        entity = self.create_entity(ctx, "policy", req["PolicyName"], req.get("Path"), data)
        self.iam.put_version(entity.arn, "v1", document, entity.created)
        self.apply_tags(entity.arn, req.get("Tags"))
        info = self.find_policy(ctx, entity.arn)
        assert info is not None
        return {"Policy": self.policy_out(ctx, info, full=True)}

    def get_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        info = self._get_policy(ctx, req["PolicyArn"])
        return {"Policy": self.policy_out(ctx, info, full=True)}

    def delete_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        info = self._customer_policy(ctx, req["PolicyArn"])
        if self._attachments(ctx.account_id, info["arn"]):
            raise errors.DeleteConflictException("Cannot delete a policy attached to entities.")
        if len(self.iam.versions(info["arn"])) > 1:
            raise errors.DeleteConflictException(
                "This policy has more than one version. Before you delete a policy, you must "
                "delete the policy's versions. The default version is deleted with the policy."
            )
        self.iam.delete_versions(info["arn"])
        self.iam.delete(ctx.account_id, "policy", info["name"])
        self.env.tags.drop(info["arn"])
        return {}

    def list_policies(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        scope = req.get("Scope", "All")
        prefix = req.get("PathPrefix", "/")
        infos: list[dict[str, Any]] = []
        if scope in ("All", "AWS"):
            infos += [
                i for i in (self.find_policy(ctx, a) for a in aws_managed_arns(ctx.partition)) if i
            ]
        if scope in ("All", "Local"):
            infos += [
                i
                for i in (
                    self.find_policy(ctx, e.arn) for e in self.iam.all(ctx.account_id, "policy")
                )
                if i
            ]
        infos = [i for i in infos if i["path"].startswith(prefix)]
        outs = [self.policy_out(ctx, i) for i in infos]
        if req.get("OnlyAttached"):
            outs = [o for o in outs if o["AttachmentCount"]]
        if req.get("PolicyUsageFilter") == "PermissionsBoundary":
            outs = [o for o in outs if o["PermissionsBoundaryUsageCount"]]
        elif req.get("PolicyUsageFilter") == "PermissionsPolicy":
            outs = [o for o in outs if o["AttachmentCount"]]
        outs.sort(key=lambda o: o["Arn"])
        page, more = paginate_list(outs, req, lambda o: o["Arn"])
        return {"Policies": page, **more}

    # -- versions ---------------------------------------------------------------------------

    def create_policy_version(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        info = self._customer_policy(ctx, req["PolicyArn"])
        document = validate_document(
            req["PolicyDocument"],
            "identity",
            MANAGED_POLICY_LIMIT,
            f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_LIMIT}",
        )
        if len(self.iam.versions(info["arn"])) >= MAX_VERSIONS:
            raise errors.LimitExceededException(
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
                "new version, you must delete an existing version."
            )
        entity = info["entity"]
        version = f"v{entity.data['next']}"
        created = now()
        self.iam.put_version(info["arn"], version, document, created)
        entity.data["next"] += 1
        entity.data["updated"] = created
        if req.get("SetAsDefault"):
            entity.data["default"] = version
        self.iam.put(entity)
        return {
            "PolicyVersion": {
                "VersionId": version,
                "IsDefaultVersion": bool(req.get("SetAsDefault")),
                "CreateDate": timestamp(created),
            }
        }

    def get_policy_version(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        info = self._get_policy(ctx, req["PolicyArn"])
        version = req["VersionId"]
        if info["aws"]:
            if version != info["default"]:
                raise self._no_version(info["arn"], version)
            document, created = self.policy_document(ctx, info), info["updated"]
        else:
            row = self.iam.version(info["arn"], version)
            if row is None:
                raise self._no_version(info["arn"], version)
            document, created = row["document"], row["created"]
        return {
            "PolicyVersion": {
                "Document": encoded(document),
                "VersionId": version,
                "IsDefaultVersion": version == info["default"],
                "CreateDate": timestamp(created),
            }
        }

    @staticmethod
    def _no_version(arn: str, version: str) -> Exception:
        return errors.NoSuchEntityException(
            f"Policy {arn} version {version} does not exist or is not attachable."
        )

    def list_policy_versions(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        info = self._get_policy(ctx, req["PolicyArn"])
        if info["aws"]:
            rows = [(info["default"], info["updated"])]
        else:
            rows = [(r["version_id"], r["created"]) for r in self.iam.versions(info["arn"])]
        versions = [
            {
                "VersionId": v,
                "IsDefaultVersion": v == info["default"],
                "CreateDate": timestamp(c),
            }
            for v, c in sorted(rows, key=lambda r: int(r[0][1:]), reverse=True)
        ]
        page, more = paginate_list(
            versions, req, lambda v: f"{100000 - int(v['VersionId'][1:]):06d}"
        )
        return {"Versions": page, **more}

    def delete_policy_version(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        info = self._customer_policy(ctx, req["PolicyArn"])
        version = req["VersionId"]
        if self.iam.version(info["arn"], version) is None:
            raise self._no_version(info["arn"], version)
        if version == info["default"]:
            raise errors.DeleteConflictException("Cannot delete the default version of a policy.")
        self.iam.delete_versions(info["arn"], version)
        return {}

    def set_default_policy_version(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        info = self._customer_policy(ctx, req["PolicyArn"])
        version = req["VersionId"]
        if self.iam.version(info["arn"], version) is None:
            raise self._no_version(info["arn"], version)
        entity = info["entity"]
        entity.data["default"] = version
        entity.data["updated"] = now()
        self.iam.put(entity)
        return {}

    def tag_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.apply_tags(self._customer_policy(ctx, req["PolicyArn"])["arn"], req["Tags"])
        return {}

    def untag_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.remove_tags(self._customer_policy(ctx, req["PolicyArn"])["arn"], req["TagKeys"])
        return {}

    def list_policy_tags(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        arn = self._get_policy(ctx, req["PolicyArn"])["arn"]
        page, more = paginate_list(self.tag_list(arn), req, lambda t: t["Key"])
        return {"Tags": page, **more}

    # -- attachments ------------------------------------------------------------------------

    def _attach(self, ctx: RequestContext, kind: str, name: str, arn: str) -> dict[str, Any]:
        entity = self.modifiable(ctx, kind, name)
        info = self.require_policy(ctx, arn)
        if info["aws"] and info["path"].startswith("/aws-service-role/"):
            # only the service-linked role AWS creates carries a service-linked role policy
            raise errors.PolicyNotAttachableException(
                "Cannot attach a Service Role Policy to a Customer Role."
            )
        attached = self.iam.targets(ctx.account_id, f"attached:{kind}", entity.name)
        if info["arn"] not in attached and len(attached) >= ATTACHED_PER_ENTITY:
            raise errors.LimitExceededException(
                f"Cannot exceed quota for PoliciesPer{kind.title()}: {ATTACHED_PER_ENTITY}"
            )
        self.iam.link(ctx.account_id, f"attached:{kind}", entity.name, info["arn"])
        return {}

    def _detach(self, ctx: RequestContext, kind: str, name: str, arn: str) -> dict[str, Any]:
        entity = self.modifiable(ctx, kind, name)
        if not self.iam.unlink(ctx.account_id, f"attached:{kind}", entity.name, arn):
            raise errors.NoSuchEntityException(f"Policy {arn} was not found.")
        return {}

    def _list_attached(
        self, ctx: RequestContext, kind: str, name: str, req: dict[str, Any]
    ) -> dict[str, Any]:
        entity = self.entity(ctx, kind, name)
        prefix = req.get("PathPrefix", "/")
        out = []
        for arn in self.iam.targets(ctx.account_id, f"attached:{kind}", entity.name):
            info = self.find_policy(ctx, arn)
            if info and info["path"].startswith(prefix):
                out.append({"PolicyName": info["name"], "PolicyArn": arn})
        out.sort(key=lambda p: p["PolicyName"])
        page, more = paginate_list(out, req, lambda p: p["PolicyName"])
        return {"AttachedPolicies": page, **more}

    def attach_user_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._attach(ctx, "user", req["UserName"], req["PolicyArn"])

    def attach_group_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._attach(ctx, "group", req["GroupName"], req["PolicyArn"])

    def attach_role_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._attach(ctx, "role", req["RoleName"], req["PolicyArn"])

    def detach_user_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._detach(ctx, "user", req["UserName"], req["PolicyArn"])

    def detach_group_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._detach(ctx, "group", req["GroupName"], req["PolicyArn"])

    def detach_role_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._detach(ctx, "role", req["RoleName"], req["PolicyArn"])

    def list_attached_user_policies(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self._list_attached(ctx, "user", req["UserName"], req)

    def list_attached_group_policies(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self._list_attached(ctx, "group", req["GroupName"], req)

    def list_attached_role_policies(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self._list_attached(ctx, "role", req["RoleName"], req)

    def list_entities_for_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        info = self._get_policy(ctx, req["PolicyArn"])
        wanted = req.get("EntityFilter")
        prefix = req.get("PathPrefix", "/")
        usage = req.get("PolicyUsageFilter")
        out: dict[str, list[dict[str, str]]] = {"User": [], "Group": [], "Role": []}
        for kind in ("user", "group", "role"):
            if wanted and wanted not in (kind.title(), "LocalManagedPolicy", "AWSManagedPolicy"):
                continue
            names: list[str] = []
            if usage != "PermissionsBoundary":
                names += self.iam.sources(ctx.account_id, f"attached:{kind}", info["arn"])
            if usage == "PermissionsBoundary":
                names += [
                    s.split(":", 1)[1]
                    for s in self.iam.sources(ctx.account_id, "boundary", info["arn"])
                    if s.startswith(f"{kind}:")
                ]
            for name in names:
                entity = self.iam.get(ctx.account_id, kind, name)
                if entity and entity.path.startswith(prefix):
                    word = kind.title()
                    out[word].append({f"{word}Name": entity.name, f"{word}Id": entity.id})
        lists = {
            "PolicyUsers": out["User"],
            "PolicyGroups": out["Group"],
            "PolicyRoles": out["Role"],
        }
        return page_across(lists, req)

    # -- inline policies --------------------------------------------------------------------

    def _put_inline(
        self, ctx: RequestContext, kind: str, owner: str, name: str, document: str
    ) -> dict[str, Any]:
        entity = self.modifiable(ctx, kind, owner)
        limit = INLINE_LIMITS[kind]
        validate_document(
            document,
            "identity",
            limit,
            f"Maximum policy size of {limit} bytes exceeded for {kind} {entity.name}",
        )
        self.iam.put_inline(ctx.account_id, kind, entity.name, name, document)
        return {}

    def _get_inline(self, ctx: RequestContext, kind: str, owner: str, name: str) -> dict[str, Any]:
        entity = self.entity(ctx, kind, owner)
        document = self.iam.inline(ctx.account_id, kind, entity.name).get(name)
        if document is None:
            raise errors.NoSuchEntityException(
                f"The {_OWNER_WORD[kind]} policy with name {name} cannot be found."
            )
        return {
            f"{kind.title()}Name": entity.name,
            "PolicyName": name,
            "PolicyDocument": encoded(document),
        }

    def _delete_inline(
        self, ctx: RequestContext, kind: str, owner: str, name: str
    ) -> dict[str, Any]:
        entity = self.modifiable(ctx, kind, owner)
        if not self.iam.delete_inline(ctx.account_id, kind, entity.name, name):
            raise errors.NoSuchEntityException(
                f"The {_OWNER_WORD[kind]} policy with name {name} cannot be found."
            )
        return {}

    def _list_inline(
        self, ctx: RequestContext, kind: str, owner: str, req: dict[str, Any]
    ) -> dict[str, Any]:
        entity = self.entity(ctx, kind, owner)
        names = list(self.iam.inline(ctx.account_id, kind, entity.name))
        page, more = paginate_list(names, req, lambda n: n)
        return {"PolicyNames": page, **more}

    def put_user_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._put_inline(
            ctx, "user", req["UserName"], req["PolicyName"], req["PolicyDocument"]
        )

    def put_group_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._put_inline(
            ctx, "group", req["GroupName"], req["PolicyName"], req["PolicyDocument"]
        )

    def put_role_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._put_inline(
            ctx, "role", req["RoleName"], req["PolicyName"], req["PolicyDocument"]
        )

    def get_user_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._get_inline(ctx, "user", req["UserName"], req["PolicyName"])

    def get_group_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._get_inline(ctx, "group", req["GroupName"], req["PolicyName"])

    def get_role_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._get_inline(ctx, "role", req["RoleName"], req["PolicyName"])

    def delete_user_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._delete_inline(ctx, "user", req["UserName"], req["PolicyName"])

    def delete_group_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._delete_inline(ctx, "group", req["GroupName"], req["PolicyName"])

    def delete_role_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._delete_inline(ctx, "role", req["RoleName"], req["PolicyName"])

    def list_user_policies(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._list_inline(ctx, "user", req["UserName"], req)

    def list_group_policies(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._list_inline(ctx, "group", req["GroupName"], req)

    def list_role_policies(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return self._list_inline(ctx, "role", req["RoleName"], req)

    # -- what applies to a principal ----------------------------------------------------------

    def identity_sources(self, account: str, kind: str, name: str) -> list[PolicySource]:
        """Every identity-based policy of a user (with its groups'), group or role."""
        out: list[PolicySource] = []
        owners = [(kind, name)]
        if kind == "user":
            owners += [("group", g) for g in self.iam.sources(account, "member", name)]
        for owner_kind, owner in owners:
            for policy_name, document in self.iam.inline(account, owner_kind, owner).items():
                out.append((policy_name, owner_kind, document))
            for arn in self.iam.targets(account, f"attached:{owner_kind}", owner):
                out += self.managed_source(account, arn)
        return out

    def managed_source(self, account: str, arn: str) -> list[PolicySource]:
        if is_aws_policy(arn):
            found = aws_managed_policy(arn)
            return [(arn, "aws-managed", found["text"])] if found else []
        entity = self.iam.by_arn(arn)
        if entity is None or entity.account != account:
            return []
        row = self.iam.version(arn, entity.data["default"])
        return [(arn, "user-managed", row["document"])] if row else []

    # -- which policies grant a service ------------------------------------------------------

    def list_policies_granting_service_access(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        entity = self.iam.by_arn(req["Arn"])
        if entity is None or entity.kind not in ("user", "group", "role"):
            raise errors.NoSuchEntityException(f"Entity {req['Arn']} does not exist.")
        owners = [(entity.kind, entity.name)]
        if entity.kind == "user":
            owners += [
                ("group", g) for g in self.iam.sources(entity.account, "member", entity.name)
            ]
        found: list[tuple[dict[str, str], str]] = []
        for kind, owner in owners:
            for name, document in self.iam.inline(entity.account, kind, owner).items():
                entry = {
                    "PolicyName": name,
                    "PolicyType": "INLINE",
                    "EntityType": kind.upper(),
                    "EntityName": owner,
                }
                found.append((entry, document))
            for arn in self.iam.targets(entity.account, f"attached:{kind}", owner):
                for _, _, document in self.managed_source(entity.account, arn):
                    entry = {
                        "PolicyName": arn.rsplit("/", 1)[-1],
                        "PolicyType": "MANAGED",
                        "PolicyArn": arn,
                    }
                    found.append((entry, document))
        out = []
        for namespace in req["ServiceNamespaces"]:
            policies = [entry for entry, doc in found if _grants(doc, namespace.lower())]
            out.append({"ServiceNamespace": namespace, "Policies": policies})
        return {"PoliciesGrantingServiceAccess": out, "IsTruncated": False}

    # -- service last accessed --------------------------------------------------------------

    def generate_service_last_accessed_details(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        entity = self.iam.by_arn(req["Arn"])
        if entity is None or entity.kind not in ("user", "group", "role", "policy"):
            raise errors.NoSuchEntityException(f"Entity {req['Arn']} does not exist.")
        if entity.kind == "policy":
            documents = [d for _, _, d in self.managed_source(entity.account, entity.arn)]
        else:
            documents = [
                d for _, _, d in self.identity_sources(entity.account, entity.kind, entity.name)
            ]
        namespaces: set[str] = set()
        for document in documents:
            for st in parse_policy(document, "identity", validate=False).statements:
                actions = st.source.get("Action", [])
                for action in actions if isinstance(actions, list) else [actions]:
                    if ":" in action and st.allow:
                        namespaces.add(action.split(":", 1)[0].lower())
        job = str(uuid.uuid4())
        self.iam.set_setting(
            ctx.account_id,
            f"last-accessed:{job}",
            {
                "created": now(),
                "type": req.get("Granularity", "SERVICE_LEVEL"),
                "namespaces": sorted(namespaces),
            },
        )
        return {"JobId": job}

    def get_service_last_accessed_details(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        job = self.iam.setting(ctx.account_id, f"last-accessed:{req['JobId']}")
        if job is None:
            raise errors.NoSuchEntityException(f"No job found for JobId {req['JobId']}.")
        services = [
            {"ServiceName": ns, "ServiceNamespace": ns, "TotalAuthenticatedEntities": 0}
            for ns in job["namespaces"]
        ]
        page, more = paginate_list(services, req, lambda s: s["ServiceNamespace"])
        return {
            "JobStatus": "COMPLETED",
            "JobType": job["type"],
            "JobCreationDate": timestamp(job["created"]),
            "JobCompletionDate": timestamp(job["created"]),
            "ServicesLastAccessed": page,
            **more,
        }

    # -- context keys -----------------------------------------------------------------------------

    @staticmethod
    def _context_keys(documents: list[str]) -> list[str]:
        keys: dict[str, str] = {}
        for document in documents:
            try:
                policy = parse_policy(document, "identity", validate=False)
            except ValueError:
                raise errors.InvalidInputException("Invalid policy document.") from None
            for st in policy.statements:
                for name in st.source.get("Condition", {}).values():
                    for key in name:
                        keys.setdefault(key.lower(), key)
        return sorted(keys.values(), key=str.lower)

    def get_context_keys_for_custom_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return {"ContextKeyNames": self._context_keys(req["PolicyInputList"])}

    def get_context_keys_for_principal_policy(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        entity = self.iam.by_arn(req["PolicySourceArn"])
        if entity is None or entity.kind not in ("user", "group", "role"):
            raise errors.NoSuchEntityException(f"Entity {req['PolicySourceArn']} does not exist.")
        documents = [
            d for _, _, d in self.identity_sources(entity.account, entity.kind, entity.name)
        ]
        return {"ContextKeyNames": self._context_keys(documents + req.get("PolicyInputList", []))}

    # -- the policy simulator -----------------------------------------------------------------

    def simulate_principal_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        source = req["PolicySourceArn"]
        entity = self.iam.by_arn(source)
        if entity is None or entity.kind not in ("user", "group", "role"):
            raise errors.NoSuchEntityException(f"Entity {source} does not exist.")
        sources = self.identity_sources(entity.account, entity.kind, entity.name)
        sources += [
            (f"PolicyInputList.{i}", "none", doc)
            for i, doc in enumerate(req.get("PolicyInputList", []), start=1)
        ]
        boundary = None
        if entity.data.get("boundary"):
            boundary = self.managed_source(entity.account, entity.data["boundary"])
        if req.get("PermissionsBoundaryPolicyInputList"):
            boundary = [
                (f"PermissionsBoundaryPolicyInputList.{i}", "none", doc)
                for i, doc in enumerate(req["PermissionsBoundaryPolicyInputList"], start=1)
            ]
        caller = Caller(
            arn=req.get("CallerArn") or entity.arn,
            account=entity.account,
            kind="user" if entity.kind == "user" else "assumed-role",
            user_id=entity.id,
            name=entity.name if entity.kind == "user" else None,
            role_arn=entity.arn if entity.kind == "role" else None,
            tags=self.env.tags.get(entity.arn),
        )
        return self._simulate(req, caller, sources, boundary)

    def simulate_custom_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        sources = [
            (f"PolicyInputList.{i}", "none", doc)
            for i, doc in enumerate(req["PolicyInputList"], start=1)
        ]
        boundary = None
        if req.get("PermissionsBoundaryPolicyInputList"):
            boundary = [
                (f"PermissionsBoundaryPolicyInputList.{i}", "none", doc)
                for i, doc in enumerate(req["PermissionsBoundaryPolicyInputList"], start=1)
            ]
        caller_arn = (
            req.get("CallerArn") or f"arn:{ctx.partition}:iam::{ctx.account_id}:user/SimulatedUser"
        )
        caller = Caller(
            arn=caller_arn,
            account=ctx.account_id,
            kind="user",
            user_id="SIMULATED",
            name=caller_arn.rsplit("/", 1)[-1],
        )
        return self._simulate(req, caller, sources, boundary)

    def _compile(self, sources: list[PolicySource], kind: Kind) -> list[tuple[str, Policy]]:
        out = []
        for policy_id, _, document in sources:
            try:
                out.append((policy_id, parse_policy(document, kind, validate=False)))
            except Exception:
                raise errors.InvalidInputException(
                    f"Invalid policy document in {policy_id}."
                ) from None
        return out

    def _simulate(
        self,
        req: dict[str, Any],
        caller: Caller,
        sources: list[PolicySource],
        boundary_sources: list[PolicySource] | None,
    ) -> dict[str, Any]:
        types = {pid: ptype for pid, ptype, _ in sources}
        texts = {pid: text for pid, _, text in sources}
        if boundary_sources:
            texts.update({pid: text for pid, _, text in boundary_sources})
        if req.get("ResourcePolicy"):
            texts["ResourcePolicy"] = req["ResourcePolicy"]
        positions = {pid: statement_positions(text) for pid, text in texts.items()}
        identity = self._compile(sources, "identity")
        boundary = (
            self._compile(boundary_sources, "identity") if boundary_sources is not None else None
        )
        resource_policy = (
            self._compile([("ResourcePolicy", "resource", req["ResourcePolicy"])], "resource")
            if req.get("ResourcePolicy")
            else []
        )
        context: dict[str, list[str]] = {}
        for entry in req.get("ContextEntries", []):
            context[entry["ContextKeyName"].lower()] = list(entry.get("ContextKeyValues", []))
        owner = req.get("ResourceOwner")
        owner_account = owner.split(":")[4] if owner and owner.count(":") >= 4 else None
        results = []
        for action in req["ActionNames"]:
            for resource in req.get("ResourceArns") or ["*"]:
                request = Request(action, resource, caller, context, owner_account)
                decision = evaluate(request, identity, resource_policy, boundary)
                result: dict[str, Any] = {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": decision.decision,
                    "MatchedStatements": [
                        _matched(
                            m.policy_id,
                            types.get(m.policy_id, m.policy_type),
                            m.statement.index,
                            positions,
                        )
                        for m in decision.matched
                    ],
                    "MissingContextValues": [],
                }
                if boundary is not None:
                    allowed = evaluate(request, boundary).allowed
                    result["PermissionsBoundaryDecisionDetail"] = {
                        "AllowedByPermissionsBoundary": allowed
                    }
                results.append(result)
        page, more = paginate_list(results, req, lambda r: f"{results.index(r):08d}")
        return {"EvaluationResults": page, **more}


def _grants(document: str, namespace: str) -> bool:
    """Whether a policy allows any action of a service (``s3``) at all."""
    try:
        policy = parse_policy(document, "identity", validate=False)
    except ValueError:
        return False
    for st in policy.statements:
        if not st.allow:
            continue
        source = st.source
        if "Action" in source:
            actions = source["Action"] if isinstance(source["Action"], list) else [source["Action"]]
            if any(a == "*" or a.lower().split(":", 1)[0] == namespace for a in actions):
                return True
        elif "NotAction" in source:
            excluded = source["NotAction"]
            excluded = excluded if isinstance(excluded, list) else [excluded]
            if not any(a == "*" or a.lower() == f"{namespace}:*" for a in excluded):
                return True
    return False


def _matched(
    policy_id: str,
    policy_type: str,
    index: int,
    positions: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]],
) -> dict[str, Any]:
    found = positions.get(policy_id, [])
    (start_line, start_col), (end_line, end_col) = (
        found[index] if index < len(found) else ((1, 1), (1, 1))
    )
    return {
        "SourcePolicyId": policy_id,
        "SourcePolicyType": policy_type,
        "StartPosition": {"Line": start_line, "Column": start_col},
        "EndPosition": {"Line": end_line, "Column": end_col},
    }
