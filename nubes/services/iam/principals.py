"""Users, groups, roles (with service-linked roles) and instance profiles."""

from __future__ import annotations

import json
import uuid
from typing import Any

from nubes.core.context import RequestContext
from nubes.services.iam.common import (
    IamBase,
    iam_arn,
    now,
    page_args,
    paged,
    paginate_list,
    timestamp,
    validate_document,
)
from nubes.services.iam.errors import errors
from nubes.services.iam.models import Entity

TRUST_POLICY_LIMIT = 2048
GROUPS_PER_USER = 10

# Service-linked role names AWS uses for a few well-known services; others follow the pattern.
# Service-linked role names AWS gives per service, and whether the service accepts a
# CustomSuffix (IAM User Guide, "AWS services that work with IAM", Service-linked role column).
_SLR_NAMES: dict[str, tuple[str, bool, str | None]] = {
    # service principal: (role name, custom suffix allowed, the managed policy AWS attaches
    # from /aws-service-role/), as AWS's "services that work with IAM" table lists them
    "acm.amazonaws.com": (
        "AWSServiceRoleForCertificateManager",
        False,
        "CertificateManagerServiceRolePolicy",
    ),
    "autoscaling.amazonaws.com": (
        "AWSServiceRoleForAutoScaling",
        True,
        "AutoScalingServiceRolePolicy",
    ),
    "ecs.amazonaws.com": ("AWSServiceRoleForECS", False, "AmazonECSServiceRolePolicy"),
    "elasticloadbalancing.amazonaws.com": (
        "AWSServiceRoleForElasticLoadBalancing",
        False,
        "AWSElasticLoadBalancingServiceRolePolicy",
    ),
    "rds.amazonaws.com": ("AWSServiceRoleForRDS", False, "AmazonRDSServiceRolePolicy"),
    "eks.amazonaws.com": ("AWSServiceRoleForAmazonEKS", False, "AmazonEKSServiceRolePolicy"),
    "spot.amazonaws.com": ("AWSServiceRoleForEC2Spot", False, "AWSEC2SpotServiceRolePolicy"),
    "organizations.amazonaws.com": (
        "AWSServiceRoleForOrganizations",
        False,
        "AWSOrganizationsServiceTrustPolicy",
    ),
    "elasticache.amazonaws.com": (
        "AWSServiceRoleForElastiCache",
        False,
        "ElastiCacheServiceRolePolicy",
    ),
    "es.amazonaws.com": (
        "AWSServiceRoleForAmazonOpenSearchService",
        False,
        "AmazonOpenSearchServiceRolePolicy",
    ),
    "opensearchservice.amazonaws.com": (
        "AWSServiceRoleForAmazonOpenSearchService",
        False,
        "AmazonOpenSearchServiceRolePolicy",
    ),
    "ssm.amazonaws.com": ("AWSServiceRoleForAmazonSSM", False, "AmazonSSMServiceRolePolicy"),
    "ops.apigateway.amazonaws.com": (
        "AWSServiceRoleForAPIGateway",
        False,
        "APIGatewayServiceRolePolicy",
    ),
    "replication.dynamodb.amazonaws.com": (
        "AWSServiceRoleForDynamoDBReplication",
        False,
        "DynamoDBReplicationServiceRolePolicy",
    ),
    "cloudtrail.amazonaws.com": (
        "AWSServiceRoleForCloudTrail",
        False,
        "CloudTrailServiceRolePolicy",
    ),
    "transitgateway.amazonaws.com": (
        "AWSServiceRoleForVPCTransitGateway",
        False,
        "AWSVPCTransitGatewayServiceRolePolicy",
    ),
    "replicator.lambda.amazonaws.com": (
        "AWSServiceRoleForLambdaReplicator",
        False,
        "AWSLambdaReplicator",
    ),
    "elasticfilesystem.amazonaws.com": (
        "AWSServiceRoleForAmazonElasticFileSystem",
        False,
        "AmazonElasticFileSystemServiceRolePolicy",
    ),
    "kafka.amazonaws.com": ("AWSServiceRoleForKafka", False, "KafkaServiceRolePolicy"),
    "securityhub.amazonaws.com": (
        "AWSServiceRoleForSecurityHub",
        False,
        "AWSSecurityHubServiceRolePolicy",
    ),
    "sso.amazonaws.com": ("AWSServiceRoleForSSO", False, "AWSSSOServiceRolePolicy"),
    "guardduty.amazonaws.com": (
        "AWSServiceRoleForAmazonGuardDuty",
        False,
        "AmazonGuardDutyServiceRolePolicy",
    ),
    "dynamodb.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable",
        False,
        "AWSApplicationAutoscalingDynamoDBTablePolicy",
    ),
    "ecs.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
        False,
        "AWSApplicationAutoscalingECSServicePolicy",
    ),
    "lambda.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_LambdaConcurrency",
        False,
        "AWSApplicationAutoscalingLambdaConcurrencyPolicy",
    ),
}


class PrincipalOperations(IamBase):
    # -- users ------------------------------------------------------------------------------

    def create_user(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if req.get("PermissionsBoundary"):
            data["boundary"] = self.require_policy(ctx, req["PermissionsBoundary"])["arn"]
        user = self.create_entity(ctx, "user", req["UserName"], req.get("Path"), data)
        if data.get("boundary"):
            self.iam.link(ctx.account_id, "boundary", f"user:{user.name}", data["boundary"])
        self.apply_tags(user.arn, req.get("Tags"))
        return {"User": self.user_out(user, tags=True)}

    def get_user(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        name = req.get("UserName")
        if name is None:
            principal = ctx.principal
            if principal.kind == "root":
                return {
                    "User": {
                        "UserId": principal.account_id,
                        "Arn": principal.arn,
                        "CreateDate": self.account_created(ctx),
                    }
                }
            if principal.kind != "user":
                raise errors.ValidationError(
                    "Must specify userName when calling with non-User credentials"
                )
            name = principal.arn.rsplit("/", 1)[-1]
        return {"User": self.user_out(self.entity(ctx, "user", name), tags=True)}

    def account_created(self, ctx: RequestContext) -> Any:
        created = self.iam.setting(ctx.account_id, "created")
        if created is None:
            created = now()
            self.iam.set_setting(ctx.account_id, "created", created)
        return timestamp(created)

    def list_users(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        after, limit = page_args(req)
        rows = self.iam.page(ctx.account_id, "user", after, limit + 1, req.get("PathPrefix", "/"))
        return {
            "Users": [self.user_out(e) for e in rows[:limit]],
            **paged(rows, limit, lambda e: e.name),
        }

    def update_user(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.entity(ctx, "user", req["UserName"])
        new_name = req.get("NewUserName") or user.name
        new_path = req.get("NewPath") or user.path
        if new_name.lower() != user.name.lower() and self.iam.get(ctx.account_id, "user", new_name):
            raise errors.EntityAlreadyExistsException(f"User with name {new_name} already exists.")
        new_arn = iam_arn(ctx, "user", new_path, new_name)
        self.iam.rename(user, new_name, new_path, new_arn)
        if new_name != user.name:
            self.iam.rename_user_rows(ctx.account_id, user.name, new_name)
        if new_arn != user.arn:
            tags = self.env.tags.get(user.arn)
            self.env.tags.drop(user.arn)
            self.env.tags.set(new_arn, tags)
        return {}

    def delete_user(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.entity(ctx, "user", req["UserName"])
        acct, name = ctx.account_id, user.name
        checks = (
            (self.iam.item(acct, "login", name), "must delete login profile first"),
            (self.iam.access_keys(acct, name), "must delete access keys first"),
            (self.iam.items(acct, "signing-cert", name), "must delete signing certificates first"),
            (self.iam.items(acct, "ssh", name), "must delete SSH public keys first"),
            (self.iam.items(acct, "mfa-enabled", name), "must delete MFA device first"),
            (self.iam.inline(acct, "user", name), "must delete policies first"),
            (self.iam.targets(acct, "attached:user", name), "must detach all policies first"),
            (self.iam.sources(acct, "member", name), "must remove user from all groups first"),
        )
        for present, what in checks:
            if present:
                raise errors.DeleteConflictException(f"Cannot delete entity, {what}.")
        self.iam.drop_links(acct, "boundary", f"user:{name}")
        self.iam.delete(acct, "user", name)
        self.env.tags.drop(user.arn)
        return {}

    def tag_user(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.apply_tags(self.entity(ctx, "user", req["UserName"]).arn, req["Tags"])
        return {}

    def untag_user(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.remove_tags(self.entity(ctx, "user", req["UserName"]).arn, req["TagKeys"])
        return {}

    def list_user_tags(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        tags = self.tag_list(self.entity(ctx, "user", req["UserName"]).arn)
        page, more = paginate_list(tags, req, lambda t: t["Key"])
        return {"Tags": page, **more}

    def put_user_permissions_boundary(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self._set_boundary(ctx, "user", req["UserName"], req["PermissionsBoundary"])

    def delete_user_permissions_boundary(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        return self._set_boundary(ctx, "user", req["UserName"], None)

    def _set_boundary(
        self, ctx: RequestContext, kind: str, name: str, policy_arn: str | None
    ) -> dict[str, Any]:
        entity = self.entity(ctx, kind, name)
        if policy_arn is not None:
            policy_arn = self.require_policy(ctx, policy_arn)["arn"]
        self.iam.drop_links(ctx.account_id, "boundary", f"{kind}:{entity.name}")
        if policy_arn:
            self.iam.link(ctx.account_id, "boundary", f"{kind}:{entity.name}", policy_arn)
            entity.data["boundary"] = policy_arn
        else:
            entity.data.pop("boundary", None)
        self.iam.put(entity)
        return {}

    # -- groups -----------------------------------------------------------------------------

    def create_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        group = self.create_entity(ctx, "group", req["GroupName"], req.get("Path"), {})
        return {"Group": self.group_out(group)}

    def get_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        group = self.entity(ctx, "group", req["GroupName"])
        names = self.iam.targets(ctx.account_id, "member", group.name)
        after, limit = page_args(req)
        rows = self.iam.page(ctx.account_id, "user", after, limit + 1, names=names) if names else []
        return {
            "Group": self.group_out(group),
            "Users": [self.user_out(u) for u in rows[:limit]],
            **paged(rows, limit, lambda e: e.name),
        }

    def list_groups(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        after, limit = page_args(req)
        rows = self.iam.page(ctx.account_id, "group", after, limit + 1, req.get("PathPrefix", "/"))
        return {
            "Groups": [self.group_out(e) for e in rows[:limit]],
            **paged(rows, limit, lambda e: e.name),
        }

    def update_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        group = self.entity(ctx, "group", req["GroupName"])
        new_name = req.get("NewGroupName") or group.name
        new_path = req.get("NewPath") or group.path
        if new_name.lower() != group.name.lower() and self.iam.get(
            ctx.account_id, "group", new_name
        ):
            raise errors.EntityAlreadyExistsException(f"Group with name {new_name} already exists.")
        self.iam.rename(group, new_name, new_path, iam_arn(ctx, "group", new_path, new_name))
        if new_name != group.name:
            for user in self.iam.targets(ctx.account_id, "member", group.name):
                self.iam.unlink(ctx.account_id, "member", group.name, user)
                self.iam.link(ctx.account_id, "member", new_name, user)
            for arn in self.iam.targets(ctx.account_id, "attached:group", group.name):
                self.iam.unlink(ctx.account_id, "attached:group", group.name, arn)
                self.iam.link(ctx.account_id, "attached:group", new_name, arn)
            for policy, doc in self.iam.inline(ctx.account_id, "group", group.name).items():
                self.iam.put_inline(ctx.account_id, "group", new_name, policy, doc)
            self.iam.delete_inline(ctx.account_id, "group", group.name, None)
        return {}

    def delete_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        group = self.entity(ctx, "group", req["GroupName"])
        acct = ctx.account_id
        if self.iam.targets(acct, "member", group.name):
            raise errors.DeleteConflictException(
                "Cannot delete entity, must remove users from group first."
            )
        self._check_policies_gone(acct, "group", group.name)
        self.iam.delete(acct, "group", group.name)
        return {}

    def _check_policies_gone(self, account: str, kind: str, name: str) -> None:
        if self.iam.inline(account, kind, name):
            raise errors.DeleteConflictException(
                "Cannot delete entity, must delete policies first."
            )
        if self.iam.targets(account, f"attached:{kind}", name):
            raise errors.DeleteConflictException(
                "Cannot delete entity, must detach all policies first."
            )

    def add_user_to_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        group = self.entity(ctx, "group", req["GroupName"])
        user = self.entity(ctx, "user", req["UserName"])
        current = self.iam.sources(ctx.account_id, "member", user.name)
        if group.name not in current and len(current) >= GROUPS_PER_USER:
            raise errors.LimitExceededException(
                f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}"
            )
        self.iam.link(ctx.account_id, "member", group.name, user.name)
        return {}

    def remove_user_from_group(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        group = self.entity(ctx, "group", req["GroupName"])
        user = self.entity(ctx, "user", req["UserName"])
        if not self.iam.unlink(ctx.account_id, "member", group.name, user.name):
            raise errors.NoSuchEntityException(f"The user with name {user.name} cannot be found.")
        return {}

    def list_groups_for_user(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.entity(ctx, "user", req["UserName"])
        names = self.iam.sources(ctx.account_id, "member", user.name)
        after, limit = page_args(req)
        rows = (
            self.iam.page(ctx.account_id, "group", after, limit + 1, names=names) if names else []
        )
        return {
            "Groups": [self.group_out(g) for g in rows[:limit]],
            **paged(rows, limit, lambda e: e.name),
        }

    # -- roles ------------------------------------------------------------------------------

    def create_role(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        trust = self._trust_policy(ctx, req["AssumeRolePolicyDocument"])
        data: dict[str, Any] = {
            "trust": trust,
            "max_session": req.get("MaxSessionDuration", 3600),
        }
        if req.get("Description") is not None:
            data["description"] = req["Description"]
        if req.get("PermissionsBoundary"):
            data["boundary"] = self.require_policy(ctx, req["PermissionsBoundary"])["arn"]
        role = self.create_entity(ctx, "role", req["RoleName"], req.get("Path"), data)
        if data.get("boundary"):
            self.iam.link(ctx.account_id, "boundary", f"role:{role.name}", data["boundary"])
        self.apply_tags(role.arn, req.get("Tags"))
        return {"Role": self.role_out(role, tags=True, session=False)}

    def get_role(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        role = self.entity(ctx, "role", req["RoleName"])
        return {"Role": self.role_out(role, tags=True, last_used=True)}

    def list_roles(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        after, limit = page_args(req)
        rows = self.iam.page(ctx.account_id, "role", after, limit + 1, req.get("PathPrefix", "/"))
        return {
            "Roles": [self.role_out(e) for e in rows[:limit]],
            **paged(rows, limit, lambda e: e.name),
        }

    def update_role(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        role = self.modifiable_role(ctx, req["RoleName"])
        if "Description" in req:
            role.data["description"] = req["Description"]
        if "MaxSessionDuration" in req:
            role.data["max_session"] = req["MaxSessionDuration"]
        self.iam.put(role)
        return {}

    def update_role_description(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        role = self.modifiable_role(ctx, req["RoleName"])
        role.data["description"] = req["Description"]
        self.iam.put(role)
        return {"Role": self.role_out(role, tags=True)}

    def update_assume_role_policy(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        role = self.modifiable_role(ctx, req["RoleName"])
        role.data["trust"] = self._trust_policy(ctx, req["PolicyDocument"])
        self.iam.put(role)
        return {}

    def _trust_policy(self, ctx: RequestContext, document: str) -> str:
        """A valid trust policy whose users and roles of this account exist (IAM resolves them
        to their unique ids, so it refuses names it cannot find)."""
        validate_document(
            document,
            "trust",
            TRUST_POLICY_LIMIT,
            f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_LIMIT}",
        )
        statements = json.loads(document)["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            for field in ("Principal", "NotPrincipal"):
                principal = statement.get(field)
                names = principal.get("AWS", []) if isinstance(principal, dict) else []
                for name in [names] if isinstance(names, str) else names:
                    self._check_principal_exists(ctx, name)
        return document

    def _check_principal_exists(self, ctx: RequestContext, arn: str) -> None:
        prefix = f"arn:{ctx.partition}:iam::{ctx.account_id}:"
        if not arn.startswith(prefix):
            return
        kind, _, rest = arn[len(prefix) :].partition("/")
        if (
            kind in ("user", "role")
            and self.iam.get(ctx.account_id, kind, rest.rsplit("/", 1)[-1]) is None
        ):
            raise errors.MalformedPolicyDocumentException(
                f'Invalid principal in policy: "AWS":"{arn}"'
            )

    def modifiable_role(self, ctx: RequestContext, name: str) -> Entity:
        return self.modifiable(ctx, "role", name)

    def delete_role(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        role = self.modifiable_role(ctx, req["RoleName"])
        self._delete_role(ctx, role)
        return {}

    def _delete_role(self, ctx: RequestContext, role: Entity) -> None:
        acct = ctx.account_id
        if self.iam.sources(acct, "profile_role", role.name):
            raise errors.DeleteConflictException(
                "Cannot delete entity, must remove roles from instance profile first."
            )
        self._check_policies_gone(acct, "role", role.name)
        self.iam.drop_links(acct, "boundary", f"role:{role.name}")
        self.iam.delete(acct, "role", role.name)
        self.env.tags.drop(role.arn)

    def tag_role(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.apply_tags(self.entity(ctx, "role", req["RoleName"]).arn, req["Tags"])
        return {}

    def untag_role(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.remove_tags(self.entity(ctx, "role", req["RoleName"]).arn, req["TagKeys"])
        return {}

    def list_role_tags(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        tags = self.tag_list(self.entity(ctx, "role", req["RoleName"]).arn)
        page, more = paginate_list(tags, req, lambda t: t["Key"])
        return {"Tags": page, **more}

    def put_role_permissions_boundary(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        self.modifiable_role(ctx, req["RoleName"])
        return self._set_boundary(ctx, "role", req["RoleName"], req["PermissionsBoundary"])

    def delete_role_permissions_boundary(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        self.modifiable_role(ctx, req["RoleName"])
        return self._set_boundary(ctx, "role", req["RoleName"], None)

    # -- service-linked roles -----------------------------------------------------------------

    def create_service_linked_role(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        service = req["AWSServiceName"]
        if not service.endswith(".amazonaws.com"):
            raise errors.InvalidInputException(f"Service name {service} is not supported.")
        prefix = service.split(".", 1)[0]
        name, suffix_allowed, policy = _SLR_NAMES.get(service) or (
            "AWSServiceRoleFor"
            + "".join(part[:1].upper() + part[1:] for part in prefix.replace("_", "-").split("-")),
            True,
            None,
        )
        if req.get("CustomSuffix"):
            if not suffix_allowed:
                raise errors.InvalidInputException(f"Custom suffix is not allowed for {service}")
            name += "_" + req["CustomSuffix"]
        if self.iam.get(ctx.account_id, "role", name) is not None:
            raise errors.InvalidInputException(
                f"Service role name {name} has been taken in this account, please try a "
                "different suffix."
            )
        trust = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
            f'{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}'
        )
        data = {"trust": trust, "max_session": 3600, "service_linked": True}
        if req.get("Description") is not None:
            data["description"] = req["Description"]
        role = self.create_entity(ctx, "role", name, f"/aws-service-role/{service}/", data)
        if policy is not None:
            arn = f"arn:{ctx.partition}:iam::aws:policy/aws-service-role/{policy}"
            self.iam.link(ctx.account_id, "attached:role", role.name, arn)
        return {"Role": self.role_out(role, session=False)}

    def delete_service_linked_role(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.entity(ctx, "role", req["RoleName"])
        if not role.data.get("service_linked"):
            raise errors.InvalidInputException(f"Role {role.name} is not a service-linked role.")
        for arn in self.iam.targets(ctx.account_id, "attached:role", role.name):
            self.iam.unlink(ctx.account_id, "attached:role", role.name, arn)
        self.iam.delete_inline(ctx.account_id, "role", role.name, None)
        self._delete_role(ctx, role)
        service = role.path.strip("/").split("/")[-1]
        task = f"task/aws-service-role/{service}/{role.name}/{uuid.uuid4()}"
        self.iam.set_setting(ctx.account_id, f"slr-task:{task}", "SUCCEEDED")
        return {"DeletionTaskId": task}

    def get_service_linked_role_deletion_status(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        status = self.iam.setting(ctx.account_id, f"slr-task:{req['DeletionTaskId']}")
        if status is None:
            raise errors.NoSuchEntityException(
                f"Deletion task {req['DeletionTaskId']} cannot be found."
            )
        return {"Status": status}

    # -- instance profiles --------------------------------------------------------------------

    def profile_out(self, e: Entity, tags: bool = False) -> dict[str, Any]:
        roles = [
            r
            for r in (
                self.iam.get(e.account, "role", n)
                for n in self.iam.targets(e.account, "profile_role", e.name)
            )
            if r is not None
        ]
        out: dict[str, Any] = {
            "Path": e.path,
            "InstanceProfileName": e.name,
            "InstanceProfileId": e.id,
            "Arn": e.arn,
            "CreateDate": timestamp(e.created),
            "Roles": [self.role_out(r, session=False) for r in roles],
        }
        if tags:
            found = self.tag_list(e.arn)
            if found:
                out["Tags"] = found
        return out

    def create_instance_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        profile = self.create_entity(
            ctx, "instance-profile", req["InstanceProfileName"], req.get("Path"), {}
        )
        self.apply_tags(profile.arn, req.get("Tags"))
        return {"InstanceProfile": self.profile_out(profile, tags=True)}

    def get_instance_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        profile = self.entity(ctx, "instance-profile", req["InstanceProfileName"])
        return {"InstanceProfile": self.profile_out(profile, tags=True)}

    def delete_instance_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        profile = self.entity(ctx, "instance-profile", req["InstanceProfileName"])
        if self.iam.targets(ctx.account_id, "profile_role", profile.name):
            raise errors.DeleteConflictException(
                "Cannot delete entity, must remove roles from instance profile first."
            )
        self.iam.delete(ctx.account_id, "instance-profile", profile.name)
        self.env.tags.drop(profile.arn)
        return {}

    def list_instance_profiles(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        after, limit = page_args(req)
        rows = self.iam.page(
            ctx.account_id, "instance-profile", after, limit + 1, req.get("PathPrefix", "/")
        )
        return {
            "InstanceProfiles": [self.profile_out(e) for e in rows[:limit]],
            **paged(rows, limit, lambda e: e.name),
        }

    def add_role_to_instance_profile(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.entity(ctx, "instance-profile", req["InstanceProfileName"])
        role = self.entity(ctx, "role", req["RoleName"])
        if self.iam.targets(ctx.account_id, "profile_role", profile.name):
            raise errors.LimitExceededException(
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
            )
        self.iam.link(ctx.account_id, "profile_role", profile.name, role.name)
        return {}

    def remove_role_from_instance_profile(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.entity(ctx, "instance-profile", req["InstanceProfileName"])
        role = self.entity(ctx, "role", req["RoleName"])
        if not self.iam.unlink(ctx.account_id, "profile_role", profile.name, role.name):
            raise errors.NoSuchEntityException(f"The role with name {role.name} cannot be found.")
        return {}

    def list_instance_profiles_for_role(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.entity(ctx, "role", req["RoleName"])
        names = self.iam.sources(ctx.account_id, "profile_role", role.name)
        after, limit = page_args(req)
        rows = (
            self.iam.page(ctx.account_id, "instance-profile", after, limit + 1, names=names)
            if names
            else []
        )
        return {
            "InstanceProfiles": [self.profile_out(p) for p in rows[:limit]],
            **paged(rows, limit, lambda e: e.name),
        }

    def tag_instance_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        profile = self.entity(ctx, "instance-profile", req["InstanceProfileName"])
        self.apply_tags(profile.arn, req["Tags"])
        return {}

    def untag_instance_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        profile = self.entity(ctx, "instance-profile", req["InstanceProfileName"])
        self.remove_tags(profile.arn, req["TagKeys"])
        return {}

    def list_instance_profile_tags(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.entity(ctx, "instance-profile", req["InstanceProfileName"])
        page, more = paginate_list(self.tag_list(profile.arn), req, lambda t: t["Key"])
        return {"Tags": page, **more}
