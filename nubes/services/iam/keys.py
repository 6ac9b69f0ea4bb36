"""Credentials of IAM users: access keys, login profiles, MFA devices, SSH public keys,
signing and server certificates, service-specific credentials."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import string
from typing import Any

from nubes.core import ids
from nubes.core.context import RequestContext
from nubes.services.iam.common import IamBase, now, paginate_list, timestamp
from nubes.services.iam.errors import errors

ACCESS_KEYS_PER_USER = 2
CERTIFICATES_PER_USER = 2
SSH_KEYS_PER_USER = 5


def new_secret() -> str:
    """40 characters, as AWS secret access keys are."""
    return base64.b64encode(os.urandom(30)).decode()


def new_access_key_id(prefix: str = "AKIA") -> str:
    return ids.unique_id(prefix, 20)


class KeyOperations(IamBase):
    def caller_user(self, ctx: RequestContext, req: dict[str, Any]) -> str:
        """The user an operation names, or the calling user (root: "", the account itself)."""
        name = req.get("UserName")
        if name:
            return self.entity(ctx, "user", name).name
        if ctx.principal.kind == "user":
            return ctx.principal.arn.rsplit("/", 1)[-1]
        if ctx.principal.kind != "root":
            raise errors.ValidationError(
                "Must specify userName when calling with non-User credentials"
            )
        return ""

    # -- access keys --------------------------------------------------------------------------

    def create_access_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        if len(self.iam.access_keys(ctx.account_id, user)) >= ACCESS_KEYS_PER_USER:
            raise errors.LimitExceededException(
                f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
            )
        key_id, secret, created = new_access_key_id(), new_secret(), now()
        self.iam.put_access_key(key_id, ctx.account_id, user, secret, created)
        out = {
            "AccessKeyId": key_id,
            "Status": "Active",
            "SecretAccessKey": secret,
            "CreateDate": timestamp(created),
        }
        return {"AccessKey": {"UserName": user, **out} if user else out}

    def list_access_keys(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        keys = [
            {
                "UserName": r["user_name"],
                "AccessKeyId": r["access_key_id"],
                "Status": r["status"],
                "CreateDate": timestamp(r["created"]),
            }
            for r in self.iam.access_keys(ctx.account_id, user)
        ]
        page, more = paginate_list(keys, req, lambda k: k["AccessKeyId"])
        return {"AccessKeyMetadata": page, **more}

    def _key(self, ctx: RequestContext, req: dict[str, Any]) -> Any:
        user = self.caller_user(ctx, req)
        row = self.iam.access_key(req["AccessKeyId"])
        if (
            row is None
            or row["account"] != ctx.account_id
            or row["user_name"].lower() != user.lower()
        ):
            raise errors.NoSuchEntityException(
                f"The Access Key with id {req['AccessKeyId']} cannot be found."
            )
        return row

    def update_access_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self._key(ctx, req)
        self.iam.set_access_key_status(req["AccessKeyId"], req["Status"])
        return {}

    def delete_access_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self._key(ctx, req)
        self.iam.delete_access_key(req["AccessKeyId"])
        return {}

    def get_access_key_last_used(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        row = self.iam.access_key(req["AccessKeyId"])
        if row is None or row["account"] != ctx.account_id:
            raise errors.NoSuchEntityException(
                f"The Access Key with id {req['AccessKeyId']} cannot be found."
            )
        used: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
        if row["last_used"]:
            used = {
                "LastUsedDate": timestamp(row["last_used"]),
                "ServiceName": row["last_service"],
                "Region": row["last_region"],
            }
        out: dict[str, Any] = {"AccessKeyLastUsed": used}
        if row["user_name"]:
            out["UserName"] = row["user_name"]
        return out

    # -- login profiles and passwords -----------------------------------------------------------

    def _check_password(self, ctx: RequestContext, password: str) -> None:
        policy = self.iam.setting(ctx.account_id, "password_policy") or {}
        problems = []
        minimum = policy.get("MinimumPasswordLength", 8)
        if len(password) < minimum:
            problems.append(f"Password should have a minimum length of {minimum}")
        checks = (
            ("RequireSymbols", string.punctuation, "at least one symbol"),
            ("RequireNumbers", string.digits, "at least one number"),
            ("RequireUppercaseCharacters", string.ascii_uppercase, "at least one uppercase letter"),
            ("RequireLowercaseCharacters", string.ascii_lowercase, "at least one lowercase letter"),
        )
        for flag, chars, words in checks:
            if policy.get(flag) and not any(c in chars for c in password):
                problems.append(f"Password should have {words}")
        if problems:
            raise errors.PasswordPolicyViolationException(
                "Password does not conform to the account password policy: " + "; ".join(problems)
            )

    def _login(self, ctx: RequestContext, user: str) -> dict[str, Any]:
        found = self.iam.item(ctx.account_id, "login", user.lower())
        if found is None:
            raise errors.NoSuchEntityException(f"Login Profile for User {user} cannot be found.")
        return found

    def create_login_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        if self.iam.item(ctx.account_id, "login", user.lower()) is not None:
            raise errors.EntityAlreadyExistsException(
                f"Login Profile for user {user} already exists."
            )
        self._check_password(ctx, req.get("Password", ""))
        profile = {
            "UserName": user,
            "CreateDate": now(),
            "PasswordResetRequired": bool(req.get("PasswordResetRequired")),
            "hash": _hash(req.get("Password", "")),
        }
        self.iam.put_item(ctx.account_id, "login", user.lower(), user, profile)
        return {"LoginProfile": _login_out(profile)}

    def get_login_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        return {"LoginProfile": _login_out({**self._login(ctx, user), "UserName": user})}

    def update_login_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        profile = self._login(ctx, user)
        if req.get("Password") is not None:
            self._check_password(ctx, req["Password"])
            profile["hash"] = _hash(req["Password"])
        if req.get("PasswordResetRequired") is not None:
            profile["PasswordResetRequired"] = req["PasswordResetRequired"]
        self.iam.put_item(ctx.account_id, "login", user.lower(), user, profile)
        return {}

    def delete_login_profile(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        self._login(ctx, user)
        self.iam.delete_item(ctx.account_id, "login", user.lower())
        return {}

    def change_password(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        if ctx.principal.kind != "user":
            raise errors.InvalidUserTypeException("Only IAM users can change their own password.")
        user = self.caller_user(ctx, {})
        profile = self._login(ctx, user)
        if profile["hash"] != _hash(req["OldPassword"]):
            raise errors.InvalidInputException("The old password was incorrect.")
        self._check_password(ctx, req["NewPassword"])
        profile["hash"] = _hash(req["NewPassword"])
        profile["PasswordResetRequired"] = False
        self.iam.put_item(ctx.account_id, "login", user.lower(), user, profile)
        return {}

    # -- MFA devices --------------------------------------------------------------------------

    def create_virtual_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        path = req.get("Path") or "/"
        serial = f"arn:{ctx.partition}:iam::{ctx.account_id}:mfa{path}{req['VirtualMFADeviceName']}"
        if self.iam.item(ctx.account_id, "vmfa", serial) is not None:
            raise errors.EntityAlreadyExistsException(
                "MFADevice entity at the same path and name already exists."
            )
        seed = base64.b32encode(os.urandom(40)).decode()
        device = {"SerialNumber": serial, "seed": seed}
        self.iam.put_item(ctx.account_id, "vmfa", serial, "", device)
        self.apply_tags(serial, req.get("Tags"))
        return {
            "VirtualMFADevice": {
                "SerialNumber": serial,
                "Base32StringSeed": seed.encode(),
                "QRCodePNG": b"\x89PNG\r\n\x1a\n" + hashlib.sha256(seed.encode()).digest(),
                **({"Tags": self.tag_list(serial)} if req.get("Tags") else {}),
            }
        }

    def delete_virtual_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        serial = req["SerialNumber"]
        device = self.iam.item(ctx.account_id, "vmfa", serial)
        if device is None:
            raise errors.NoSuchEntityException(
                f"VirtualMFADevice with serial number {serial} doesn't exist."
            )
        if device.get("user"):
            raise errors.DeleteConflictException("MFA VirtualDevice in use. Must deactivate first.")
        self.iam.delete_item(ctx.account_id, "vmfa", serial)
        self.env.tags.drop(serial)
        return {}

    def enable_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.entity(ctx, "user", req["UserName"]).name
        serial = req["SerialNumber"]
        for code in (req["AuthenticationCode1"], req["AuthenticationCode2"]):
            if not (len(code) == 6 and code.isdigit()):
                raise errors.InvalidAuthenticationCodeException(
                    "Authentication code for device is not valid."
                )
        if self.iam.item(ctx.account_id, "mfa-enabled", serial) is not None:
            raise errors.EntityAlreadyExistsException("MFA device is already in use.")
        device = self.iam.item(ctx.account_id, "vmfa", serial)
        enabled = now()
        if device is not None:
            device.update(user=user, enabled=enabled)
            self.iam.put_item(ctx.account_id, "vmfa", serial, user, device)
        self.iam.put_item(
            ctx.account_id,
            "mfa-enabled",
            serial,
            user,
            {"UserName": user, "SerialNumber": serial, "enabled": enabled},
        )
        return {}

    def deactivate_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        serial = req["SerialNumber"]
        if not self.iam.delete_item(ctx.account_id, "mfa-enabled", serial):
            raise errors.NoSuchEntityException(
                f"MFA Device with serial number {serial} does not exist."
            )
        device = self.iam.item(ctx.account_id, "vmfa", serial)
        if device is not None:
            device.pop("user", None)
            device.pop("enabled", None)
            self.iam.put_item(ctx.account_id, "vmfa", serial, "", device)
        return {}

    def list_mfa_devices(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        devices = [
            {
                "UserName": d["UserName"],
                "SerialNumber": d["SerialNumber"],
                "EnableDate": timestamp(d["enabled"]),
            }
            for d in self.iam.items(ctx.account_id, "mfa-enabled", user)
        ]
        page, more = paginate_list(devices, req, lambda d: d["SerialNumber"])
        return {"MFADevices": page, **more}

    def get_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        found = self.iam.item(ctx.account_id, "mfa-enabled", req["SerialNumber"])
        if found is None:
            raise errors.NoSuchEntityException(
                f"MFA Device with serial number {req['SerialNumber']} does not exist."
            )
        return {
            "UserName": found["UserName"],
            "SerialNumber": found["SerialNumber"],
            "EnableDate": timestamp(found["enabled"]),
        }

    def list_virtual_mfa_devices(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        status = req.get("AssignmentStatus", "Any")
        out = []
        for device in self.iam.items(ctx.account_id, "vmfa"):
            assigned = bool(device.get("user"))
            if (status == "Assigned" and not assigned) or (status == "Unassigned" and assigned):
                continue
            entry: dict[str, Any] = {"SerialNumber": device["SerialNumber"]}
            if assigned:
                user = self.iam.get(ctx.account_id, "user", device["user"])
                if user is not None:
                    entry["User"] = self.user_out(user)
                entry["EnableDate"] = timestamp(device["enabled"])
            out.append(entry)
        page, more = paginate_list(out, req, lambda d: d["SerialNumber"])
        return {"VirtualMFADevices": page, **more}

    def resync_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.get_mfa_device(ctx, req)
        return {}

    def tag_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self._vmfa(ctx, req["SerialNumber"])
        self.apply_tags(req["SerialNumber"], req["Tags"])
        return {}

    def untag_mfa_device(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self._vmfa(ctx, req["SerialNumber"])
        self.remove_tags(req["SerialNumber"], req["TagKeys"])
        return {}

    def list_mfa_device_tags(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self._vmfa(ctx, req["SerialNumber"])
        page, more = paginate_list(self.tag_list(req["SerialNumber"]), req, lambda t: t["Key"])
        return {"Tags": page, **more}

    def _vmfa(self, ctx: RequestContext, serial: str) -> dict[str, Any]:
        device = self.iam.item(ctx.account_id, "vmfa", serial)
        if device is None:
            raise errors.NoSuchEntityException(
                f"VirtualMFADevice with serial number {serial} doesn't exist."
            )
        return device

    # -- SSH public keys ----------------------------------------------------------------------

    def upload_ssh_public_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.entity(ctx, "user", req["UserName"]).name
        body = req["SSHPublicKeyBody"].strip()
        parts = body.split()
        try:
            raw = base64.b64decode(parts[1], validate=True) if len(parts) >= 2 else b""
        except ValueError:
            raw = b""
        if not raw or not parts[0].startswith(("ssh-", "ecdsa-")):
            raise errors.InvalidPublicKeyException("Public key is invalid.")
        existing = self.iam.items(ctx.account_id, "ssh", user)
        if any(k["SSHPublicKeyBody"] == body for k in existing):
            raise errors.DuplicateSSHPublicKeyException("Public key already exists.")
        if len(existing) >= SSH_KEYS_PER_USER:
            raise errors.LimitExceededException(
                f"Cannot exceed quota for KeysPerUser: {SSH_KEYS_PER_USER}"
            )
        digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        key = {
            "UserName": user,
            "SSHPublicKeyId": ids.unique_id("APKA", 21),
            "Fingerprint": ":".join(digest[i : i + 2] for i in range(0, 32, 2)),
            "SSHPublicKeyBody": body,
            "Status": "Active",
            "UploadDate": now(),
        }
        self.iam.put_item(ctx.account_id, "ssh", key["SSHPublicKeyId"], user, key)
        return {"SSHPublicKey": _dated(key, "UploadDate")}

    def _owned(
        self, ctx: RequestContext, user: str, kind: str, item_id: str, missing: str
    ) -> dict[str, Any]:
        """A user's SSH key, signing certificate or service credential, or ``missing``."""
        found = self.iam.item(ctx.account_id, kind, item_id)
        if found is None or found["UserName"].lower() != user.lower():
            raise errors.NoSuchEntityException(missing)
        return found

    def _ssh(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        key_id = req["SSHPublicKeyId"]
        user = self.entity(ctx, "user", req["UserName"]).name
        missing = f"The Public Key with id {key_id} cannot be found."
        return self._owned(ctx, user, "ssh", key_id, missing)

    def get_ssh_public_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        return {"SSHPublicKey": _dated(self._ssh(ctx, req), "UploadDate")}

    def list_ssh_public_keys(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        keys = [
            {
                k: v
                for k, v in _dated(key, "UploadDate").items()
                if k in ("UserName", "SSHPublicKeyId", "Status", "UploadDate")
            }
            for key in self.iam.items(ctx.account_id, "ssh", user)
        ]
        page, more = paginate_list(keys, req, lambda k: k["SSHPublicKeyId"])
        return {"SSHPublicKeys": page, **more}

    def update_ssh_public_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        key = self._ssh(ctx, req)
        key["Status"] = req["Status"]
        self.iam.put_item(ctx.account_id, "ssh", key["SSHPublicKeyId"], key["UserName"], key)
        return {}

    def delete_ssh_public_key(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        key = self._ssh(ctx, req)
        self.iam.delete_item(ctx.account_id, "ssh", key["SSHPublicKeyId"])
        return {}

    # -- signing certificates -----------------------------------------------------------------

    def upload_signing_certificate(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        body = req["CertificateBody"]
        _certificate_expiry(body)
        existing = self.iam.items(ctx.account_id, "signing-cert", user)
        if any(c["CertificateBody"] == body for c in existing):
            raise errors.DuplicateCertificateException("The certificate already exists.")
        if len(existing) >= CERTIFICATES_PER_USER:
            raise errors.LimitExceededException(
                f"Cannot exceed quota for CertificatesPerUser: {CERTIFICATES_PER_USER}"
            )
        cert = {
            "UserName": user,
            "CertificateId": secrets.token_hex(16).upper(),
            "CertificateBody": body,
            "Status": "Active",
            "UploadDate": now(),
        }
        self.iam.put_item(ctx.account_id, "signing-cert", cert["CertificateId"], user, cert)
        return {"Certificate": _dated(cert, "UploadDate")}

    def list_signing_certificates(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        certs = [
            _dated(c, "UploadDate") for c in self.iam.items(ctx.account_id, "signing-cert", user)
        ]
        page, more = paginate_list(certs, req, lambda c: c["CertificateId"])
        return {"Certificates": page, **more}

    def _signing(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        cert_id = req["CertificateId"]
        missing = f"The Certificate with id {cert_id} cannot be found."
        user = self.caller_user(ctx, req)
        return self._owned(ctx, user, "signing-cert", cert_id, missing)

    def update_signing_certificate(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        cert = self._signing(ctx, req)
        cert["Status"] = req["Status"]
        self.iam.put_item(
            ctx.account_id, "signing-cert", cert["CertificateId"], cert["UserName"], cert
        )
        return {}

    def delete_signing_certificate(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        cert = self._signing(ctx, req)
        self.iam.delete_item(ctx.account_id, "signing-cert", cert["CertificateId"])
        return {}

    # -- server certificates ------------------------------------------------------------------

    def _server_cert_out(self, cert: dict[str, Any]) -> dict[str, Any]:
        return {
            "Path": cert["Path"],
            "ServerCertificateName": cert["ServerCertificateName"],
            "ServerCertificateId": cert["ServerCertificateId"],
            "Arn": cert["Arn"],
            "UploadDate": timestamp(cert["UploadDate"]),
            "Expiration": timestamp(cert["Expiration"]),
        }

    def _server_cert(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        cert = self.iam.item(ctx.account_id, "server-cert", name.lower())
        if cert is None:
            raise errors.NoSuchEntityException(
                f"The Server Certificate with name {name} cannot be found."
            )
        return cert

    def upload_server_certificate(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        name = req["ServerCertificateName"]
        if self.iam.item(ctx.account_id, "server-cert", name.lower()) is not None:
            raise errors.EntityAlreadyExistsException(
                f"The Server Certificate with name {name} already exists."
            )
        path = req.get("Path") or "/"
        cert = {
            "Path": path,
            "ServerCertificateName": name,
            "ServerCertificateId": ids.unique_id("ASCA", 21),
            "Arn": f"arn:{ctx.partition}:iam::{ctx.account_id}:server-certificate{path}{name}",
            "UploadDate": now(),
            "Expiration": _certificate_expiry(req["CertificateBody"]),
            "CertificateBody": req["CertificateBody"],
            "CertificateChain": req.get("CertificateChain"),
            # Never returned by IAM; kept so load balancer listeners can serve the certificate.
            "PrivateKey": req["PrivateKey"],
        }
        self.iam.put_item(ctx.account_id, "server-cert", name.lower(), "", cert)
        self.apply_tags(cert["Arn"], req.get("Tags"))
        out: dict[str, Any] = {"ServerCertificateMetadata": self._server_cert_out(cert)}
        if req.get("Tags"):
            out["Tags"] = self.tag_list(cert["Arn"])
        return out

    def server_certificate_pem(self, certificate_arn: str) -> tuple[bytes, bytes] | None:
        """(certificate + chain PEM, private key PEM) of a server certificate, for the load
        balancer listeners that serve it; None when there is no such certificate."""
        found = re.fullmatch(
            r"arn:[\w-]+:iam::(\d{12}):server-certificate(?:/.*)?/([^/]+)", certificate_arn
        )
        if found is None:
            return None
        cert = self.iam.item(found.group(1), "server-cert", found.group(2).lower())
        if cert is None or cert["Arn"] != certificate_arn or not cert.get("PrivateKey"):
            return None
        body = cert["CertificateBody"].rstrip("\n") + "\n" + (cert.get("CertificateChain") or "")
        return body.encode(), cert["PrivateKey"].encode()

    def get_server_certificate(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        cert = self._server_cert(ctx, req["ServerCertificateName"])
        out: dict[str, Any] = {
            "ServerCertificateMetadata": self._server_cert_out(cert),
            "CertificateBody": cert["CertificateBody"],
        }
        if cert.get("CertificateChain"):
            out["CertificateChain"] = cert["CertificateChain"]
        tags = self.tag_list(cert["Arn"])
        if tags:
            out["Tags"] = tags
        return {"ServerCertificate": out}

    def list_server_certificates(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        prefix = req.get("PathPrefix", "/")
        certs = [
            self._server_cert_out(c)
            for c in self.iam.items(ctx.account_id, "server-cert")
            if c["Path"].startswith(prefix)
        ]
        page, more = paginate_list(certs, req, lambda c: c["ServerCertificateName"])
        return {"ServerCertificateMetadataList": page, **more}

    def update_server_certificate(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        cert = self._server_cert(ctx, req["ServerCertificateName"])
        new_name = req.get("NewServerCertificateName") or cert["ServerCertificateName"]
        if new_name.lower() != cert["ServerCertificateName"].lower() and self.iam.item(
            ctx.account_id, "server-cert", new_name.lower()
        ):
            raise errors.EntityAlreadyExistsException(
                f"The Server Certificate with name {new_name} already exists."
            )
        old_arn = cert["Arn"]
        self.iam.delete_item(ctx.account_id, "server-cert", cert["ServerCertificateName"].lower())
        cert["ServerCertificateName"] = new_name
        cert["Path"] = req.get("NewPath") or cert["Path"]
        cert["Arn"] = (
            f"arn:{ctx.partition}:iam::{ctx.account_id}:server-certificate{cert['Path']}{new_name}"
        )
        self.iam.put_item(ctx.account_id, "server-cert", new_name.lower(), "", cert)
        if old_arn != cert["Arn"]:
            tags = self.env.tags.get(old_arn)
            self.env.tags.drop(old_arn)
            self.env.tags.set(cert["Arn"], tags)
        return {}

    def delete_server_certificate(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        cert = self._server_cert(ctx, req["ServerCertificateName"])
        self.iam.delete_item(ctx.account_id, "server-cert", cert["ServerCertificateName"].lower())
        self.env.tags.drop(cert["Arn"])
        return {}

    def tag_server_certificate(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.apply_tags(self._server_cert(ctx, req["ServerCertificateName"])["Arn"], req["Tags"])
        return {}

    def untag_server_certificate(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        self.remove_tags(
            self._server_cert(ctx, req["ServerCertificateName"])["Arn"], req["TagKeys"]
        )
        return {}

    def list_server_certificate_tags(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        arn = self._server_cert(ctx, req["ServerCertificateName"])["Arn"]
        page, more = paginate_list(self.tag_list(arn), req, lambda t: t["Key"])
        return {"Tags": page, **more}

    # -- service-specific credentials ---------------------------------------------------------

    def create_service_specific_credential(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.entity(ctx, "user", req["UserName"]).name
        cred = {
            "CreateDate": now(),
            "ServiceName": req["ServiceName"],
            "ServiceUserName": f"{user}-at-{ctx.account_id}",
            "ServicePassword": new_secret(),
            "ServiceSpecificCredentialId": ids.unique_id("ACCA", 21),
            "UserName": user,
            "Status": "Active",
        }
        self.iam.put_item(
            ctx.account_id, "service-cred", cred["ServiceSpecificCredentialId"], user, cred
        )
        return {"ServiceSpecificCredential": _dated(cred, "CreateDate")}

    def _service_cred(self, ctx: RequestContext, req: dict[str, Any]) -> dict[str, Any]:
        cred_id = req["ServiceSpecificCredentialId"]
        user = self.caller_user(ctx, req)
        missing = f"No such credential {cred_id} exists"
        return self._owned(ctx, user, "service-cred", cred_id, missing)

    def list_service_specific_credentials(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.caller_user(ctx, req)
        creds = [
            {k: v for k, v in _dated(c, "CreateDate").items() if k != "ServicePassword"}
            for c in self.iam.items(ctx.account_id, "service-cred", user)
            if not req.get("ServiceName") or c["ServiceName"] == req["ServiceName"]
        ]
        return {"ServiceSpecificCredentials": creds}

    def update_service_specific_credential(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        cred = self._service_cred(ctx, req)
        cred["Status"] = req["Status"]
        self.iam.put_item(
            ctx.account_id,
            "service-cred",
            cred["ServiceSpecificCredentialId"],
            cred["UserName"],
            cred,
        )
        return {}

    def reset_service_specific_credential(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        cred = self._service_cred(ctx, req)
        cred["ServicePassword"] = new_secret()
        self.iam.put_item(
            ctx.account_id,
            "service-cred",
            cred["ServiceSpecificCredentialId"],
            cred["UserName"],
            cred,
        )
        return {"ServiceSpecificCredential": _dated(cred, "CreateDate")}

    def delete_service_specific_credential(
        self, ctx: RequestContext, req: dict[str, Any]
    ) -> dict[str, Any]:
        cred = self._service_cred(ctx, req)
        self.iam.delete_item(ctx.account_id, "service-cred", cred["ServiceSpecificCredentialId"])
        return {}


def _hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _login_out(profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "UserName": profile["UserName"],
        "CreateDate": timestamp(profile["CreateDate"]),
        "PasswordResetRequired": profile["PasswordResetRequired"],
    }


def _dated(item: dict[str, Any], field: str) -> dict[str, Any]:
    return {**item, field: timestamp(item[field])}


def _certificate_expiry(body: str) -> float:
    """When a PEM certificate expires; IAM refuses what is not one."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(body.encode())
    except ValueError:
        raise errors.MalformedCertificateException(
            "Certificate body is invalid. The body must not contain a private key."
        ) from None
    return cert.not_valid_after_utc.timestamp()
