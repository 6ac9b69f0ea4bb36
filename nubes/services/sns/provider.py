"""Amazon Simple Notification Service: topics (standard and FIFO), subscriptions with filter
policies, fan-out to SQS (inside the Publish transaction), HTTP/HTTPS (background, with
retries), Lambda, and recorded deliveries for SMS, mobile push and mail."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from nubes.core import accounts, clock, safejson
from nubes.core.arns import arn_service, parse_arn, root_arn
from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.core.tags import tag_problems
from nubes.gateway.enforce import carries_credentials
from nubes.protocol.base import HttpRequest, ServiceError
from nubes.services.base import ServiceProvider
from nubes.services.sns import delivery_policy, filter_policy
from nubes.services.sns import metrics as sns_metrics
from nubes.services.sns.delivery import (
    HttpDeliverer,
    HttpDelivery,
    Notification,
    confirmation,
    retryable,
)
from nubes.services.sns.delivery_policy import retry_delays
from nubes.services.sns.errors import errors, invalid
from nubes.services.sns.models import (
    MIGRATIONS,
    HttpPending,
    Platform,
    Sent,
    SmsSettings,
    Subscription,
    Topic,
    Topics,
)
from nubes.services.sns.signing import Signer

Json = dict[str, Any]
log = logging.getLogger("nubes.sns")

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
FIFO_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,251}\.fifo$")
PHONE = re.compile(r"^\+?[1-9]\d{4,14}$")
BATCH_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_MESSAGE = 262_144
MAX_BATCH = 10
PAGE = 100
DEDUP_WINDOW = 300.0
TOKEN_LIFETIME = 2 * 86400.0
"""Confirmation tokens are valid for two days (Subscribe's API reference)."""
PROTOCOLS = (
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
)
RAW_CAPABLE = ("sqs", "http", "https", "firehose")
TOPIC_SETTABLE = {
    "DeliveryPolicy",
    "DisplayName",
    "Policy",
    "TracingConfig",
    "KmsMasterKeyId",
    "SignatureVersion",
    "ContentBasedDeduplication",
    "ArchivePolicy",
    "FifoThroughputScope",
    "DataProtectionPolicy",
}
FEEDBACK = re.compile(
    r"^(HTTP|Firehose|Lambda|SQS|Application)(Success|Failure)Feedback(RoleArn|SampleRate)$"
)
SUBSCRIPTION_SETTABLE = {
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
}
# What each push service's credentials consist of (CreatePlatformApplication's API reference):
# FCM has no principal, only its API key or private key file.
PLATFORM_CREDENTIALS = {
    "ADM": ("PlatformPrincipal", "PlatformCredential"),
    "APNS": ("PlatformPrincipal", "PlatformCredential"),
    "APNS_SANDBOX": ("PlatformPrincipal", "PlatformCredential"),
    "APNS_VOIP": ("PlatformPrincipal", "PlatformCredential"),
    "APNS_VOIP_SANDBOX": ("PlatformPrincipal", "PlatformCredential"),
    "BAIDU": ("PlatformPrincipal", "PlatformCredential"),
    "GCM": ("PlatformCredential",),
    "MPNS": ("PlatformPrincipal", "PlatformCredential"),
    "WNS": ("PlatformPrincipal", "PlatformCredential"),
}
SENT_KINDS = {
    "/_aws/sns/sms-messages": ("sms", "sms_messages"),
    "/_aws/sns/platform-endpoint-messages": ("application", "platform_endpoint_messages"),
}


class SnsProvider(ServiceProvider):
    service = "sns"
    migrations = MIGRATIONS

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.topics = Topics(self.store)
        self.platform = Platform(self.store)
        self.sent = Sent(self.store)
        self.sms = SmsSettings(self.store)
        self.pending = HttpPending(self.store)
        self.signer = Signer(self.blobs.root / "sns")
        self.http: HttpDeliverer | None = None
        self._lambda_calls: set[asyncio.Task[None]] = set()

    @classmethod
    def wants_start(cls, env: Any) -> bool:
        # HTTP/S deliveries waiting for a retry go on after a restart.
        return cls.has_rows(env, "SELECT 1 FROM sns_http_pending LIMIT 1")

    async def start(self) -> None:
        from nubes.services.sns.inspect_endpoints import endpoints

        self.http = HttpDeliverer(
            self.pending.due, self.pending.next_due, self._settle, self._postpone
        )
        self.env.scheduler.on_advance(self.http.clock_moved)
        self.http.start()
        self.env.scheduler.every("sns-dedup", 60.0, lambda: self.topics.expire(clock.now()))
        self.env.gateway.interceptors.append(endpoints(self))

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()

    def reset(self) -> None:
        self.topics.forget()

    # -- topics ---------------------------------------------------------------------------------

    def _topic(self, ctx: RequestContext, arn: str, param: str = "TopicArn") -> Topic:
        _check_arn(arn, param)
        if arn.split(":")[3] != ctx.region:
            # SNS answers for the topics of the region the request was sent to.
            raise invalid(param)
        topic = self.topics.get(arn)
        if topic is None:
            raise errors.NotFoundException("Topic does not exist")
        return topic

    def create_topic(self, ctx: RequestContext, req: Json) -> Json:
        name = req["Name"]
        given = dict(req.get("Attributes") or {})
        fifo = given.pop("FifoTopic", "false").lower() == "true"
        if not (FIFO_TOPIC_NAME if fifo else TOPIC_NAME).match(name):
            raise invalid(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and "
                "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between "
                "1 and 256 characters long."
                if fifo or name.endswith(".fifo")
                else "Topic Name"
            )
        attrs = self._topic_attributes(given, fifo, reason="Attributes Reason: ")
        arn = f"arn:{ctx.partition}:sns:{ctx.region}:{ctx.account_id}:{name}"
        existing = self.topics.get(arn)
        if existing is not None:
            if any(existing.attributes.get(k) != v for k, v in attrs.items()):
                raise invalid("Attributes Reason: Topic already exists with different attributes")
            return {"TopicArn": arn}
        if fifo:
            attrs.setdefault("ContentBasedDeduplication", "false")
        self.topics.create(Topic(arn, ctx.account_id, ctx.region, name, fifo, attrs, None))
        tags = {t["Key"]: t["Value"] for t in req.get("Tags") or []}
        if tags:
            self._check_tags(self.env.tags.get(arn), tags)
            self.env.tags.set(arn, tags)
        if req.get("DataProtectionPolicy"):
            topic = self._topic(ctx, arn)
            topic.data_protection = req["DataProtectionPolicy"]
            self.topics.update(topic)
        return {"TopicArn": arn}

    @staticmethod
    def _topic_attributes(given: Mapping[str, str], fifo: bool, reason: str = "") -> dict[str, str]:
        """``reason`` leads the delivery policy's messages, as in ``_subscription_attributes``."""
        out = {}
        for name, value in given.items():
            if name not in TOPIC_SETTABLE and not FEEDBACK.match(name):
                raise invalid("AttributeName")
            if name == "ContentBasedDeduplication":
                if not fifo:
                    raise invalid(
                        "Attributes Reason: ContentBasedDeduplication can only be set for FIFO "
                        "topics"
                    )
                if value.lower() not in ("true", "false"):
                    raise invalid("Attributes Reason: ContentBasedDeduplication must be a boolean")
                value = value.lower()
            if name == "Policy" and value:
                try:
                    safejson.loads(value)
                except ValueError:
                    raise invalid(f"Attributes Reason: {name}: failed to parse JSON") from None
            if name == "DeliveryPolicy" and value:
                _check_delivery_policy(value, reason, topic=True)
            if name == "SignatureVersion" and value not in ("1", "2"):
                raise invalid("Attributes Reason: SignatureVersion must be 1 or 2")
            if name == "TracingConfig" and value not in ("PassThrough", "Active"):
                raise invalid(f"Attributes Reason: TracingConfig: Invalid value [{value}]")
            out[name] = value
        return out

    def delete_topic(self, ctx: RequestContext, req: Json) -> Json:
        arn = req["TopicArn"]
        if self.topics.get(arn) is not None:
            self.topics.delete(arn)
            self.env.tags.drop(arn)
        return {}

    def list_topics(self, ctx: RequestContext, req: Json) -> Json:
        after = _after(req.get("NextToken"))
        arns = self.topics.page(ctx.account_id, ctx.region, after, PAGE + 1)
        out: Json = {"Topics": [{"TopicArn": a} for a in arns[:PAGE]]}
        if len(arns) > PAGE:
            out["NextToken"] = encode_token(arns[PAGE - 1])
        return out

    def get_topic_attributes(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        confirmed, pending = self.topics.subscription_counts(topic.arn)
        attrs = {
            "TopicArn": topic.arn,
            "Owner": topic.account,
            "Policy": json.dumps(_default_policy(topic)),
            "DisplayName": "",
            "SubscriptionsConfirmed": str(confirmed),
            "SubscriptionsPending": str(pending),
            "SubscriptionsDeleted": "0",
            **topic.attributes,
            "EffectiveDeliveryPolicy": json.dumps(
                delivery_policy.topic_effective(topic.attributes.get("DeliveryPolicy"))
            ),
        }
        if topic.fifo:
            attrs["FifoTopic"] = "true"
        return {"Attributes": attrs}

    def set_topic_attributes(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        name = req["AttributeName"]
        topic.attributes.update(
            self._topic_attributes({name: req.get("AttributeValue") or ""}, topic.fifo)
        )
        self.topics.update(topic)
        return {}

    def put_data_protection_policy(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["ResourceArn"], "ResourceArn")
        try:
            safejson.loads(req["DataProtectionPolicy"])
        except ValueError:
            raise invalid("DataProtectionPolicy Reason: failed to parse JSON") from None
        topic.data_protection = req["DataProtectionPolicy"]
        self.topics.update(topic)
        return {}

    def get_data_protection_policy(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["ResourceArn"], "ResourceArn")
        return {"DataProtectionPolicy": topic.data_protection} if topic.data_protection else {}

    def add_permission(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        policy = json.loads(topic.attributes.get("Policy") or "null") or _default_policy(topic)
        label = req["Label"]
        if any(s.get("Sid") == label for s in policy["Statement"]):
            raise invalid("Statement already exists")
        accounts = req["AWSAccountId"]
        policy["Statement"].append(
            {
                "Sid": label,
                "Effect": "Allow",
                "Principal": {
                    "AWS": [f"arn:{ctx.partition}:iam::{a}:root" for a in accounts]
                    if len(accounts) > 1
                    else f"arn:{ctx.partition}:iam::{accounts[0]}:root"
                },
                "Action": [f"SNS:{a}" for a in req["ActionName"]],
                "Resource": topic.arn,
            }
        )
        topic.attributes["Policy"] = json.dumps(policy)
        self.topics.update(topic)
        return {}

    def remove_permission(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        policy = json.loads(topic.attributes.get("Policy") or "null") or _default_policy(topic)
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != req["Label"]]
        topic.attributes["Policy"] = json.dumps(policy)
        self.topics.update(topic)
        return {}

    # -- tags ------------------------------------------------------------------------------------

    def _tagged(self, arn: str) -> str:
        if self.topics.get(arn) is None:
            raise errors.ResourceNotFoundException("Resource does not exist")
        return arn

    @staticmethod
    def _check_tags(existing: dict[str, str], new: dict[str, str]) -> None:
        problems = tag_problems(existing, new)
        if problems:
            if len({**existing, **new}) > 50:
                raise errors.TagLimitExceededException(
                    "Could not complete request: tag quota of per resource exceeded"
                )
            raise invalid(problems[0])

    def tag_resource(self, ctx: RequestContext, req: Json) -> Json:
        arn = self._tagged(req["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in req["Tags"]}
        self._check_tags(self.env.tags.get(arn), tags)
        self.env.tags.set(arn, tags)
        return {}

    def untag_resource(self, ctx: RequestContext, req: Json) -> Json:
        self.env.tags.remove(self._tagged(req["ResourceArn"]), req["TagKeys"])
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, req: Json) -> Json:
        tags = self.env.tags.get(self._tagged(req["ResourceArn"]))
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    # -- subscriptions ---------------------------------------------------------------------------

    def subscribe(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        protocol = req["Protocol"]
        if protocol not in PROTOCOLS:
            raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
        endpoint = req.get("Endpoint") or ""
        _check_endpoint(topic, protocol, endpoint)
        attrs = _subscription_attributes(
            req.get("Attributes") or {}, protocol, reason="Attributes Reason: "
        )
        existing = self.topics.find(topic.arn, protocol, endpoint)
        if existing is not None:
            if any(existing.attributes.get(k) != v for k, v in attrs.items()):
                raise invalid(
                    "Attributes Reason: Subscription already exists with different attributes"
                )
            return {"SubscriptionArn": self._shown_arn(existing, req)}
        needs_confirmation = protocol in ("http", "https", "email", "email-json")
        sub = Subscription(
            arn=f"{topic.arn}:{uuid.uuid4()}",
            topic_arn=topic.arn,
            account=ctx.account_id,
            region=ctx.region,
            protocol=protocol,
            endpoint=endpoint,
            attributes=attrs,
            confirmed=not needs_confirmation,
            token=secrets.token_hex(64),
            principal=ctx.principal.arn,
            token_expires=clock.now() + TOKEN_LIFETIME,
            authenticated=not needs_confirmation,
        )
        self.topics.save_subscription(sub)
        if needs_confirmation:
            self._ask_confirmation(ctx, sub)
        return {"SubscriptionArn": self._shown_arn(sub, req)}

    @staticmethod
    def _shown_arn(sub: Subscription, req: Json) -> str:
        if sub.confirmed or req.get("ReturnSubscriptionArn"):
            return sub.arn
        return "pending confirmation"

    def _ask_confirmation(self, ctx: RequestContext, sub: Subscription) -> None:
        body = confirmation(
            self.signer,
            "SubscriptionConfirmation",
            sub.topic_arn,
            sub.token,
            ctx.base_url,
            str(uuid.uuid4()),
        )
        if sub.protocol in ("http", "https"):
            self._post(sub, body, "SubscriptionConfirmation", json.loads(body)["MessageId"])
        else:
            self.sent.record(
                "email",
                sub.account,
                sub.region,
                sub.endpoint,
                {"Subject": "AWS Notification - Subscription Confirmation", "Body": body},
            )

    def confirm_subscription(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        sub = self.topics.by_token(topic.arn, req["Token"])
        if sub is None or (sub.token_expires and clock.now() > sub.token_expires):
            raise invalid("Token")
        if str(req.get("AuthenticateOnUnsubscribe", "")).lower() == "true" and (
            carries_credentials(ctx.request)
        ):
            sub.authenticated = True
        sub.confirmed = True
        self.topics.save_subscription(sub)
        return {"SubscriptionArn": sub.arn}

    def unsubscribe(self, ctx: RequestContext, req: Json) -> Json:
        sub = self._subscription(req["SubscriptionArn"])
        self.topics.delete_subscription(sub)
        if sub.confirmed and sub.protocol in ("http", "https"):
            message_id = str(uuid.uuid4())
            body = confirmation(
                self.signer,
                "UnsubscribeConfirmation",
                sub.topic_arn,
                sub.token,
                ctx.base_url,
                message_id,
                about=sub.arn,
            )
            self._post(sub, body, "UnsubscribeConfirmation", message_id)
        return {}

    def _subscription(self, arn: str, region: str | None = None) -> Subscription:
        """``region``: the request's, where SNS keeps each region's subscriptions apart (the
        unsigned UnsubscribeURL carries no region of its own)."""
        _check_arn(arn, "SubscriptionArn")
        sub = self.topics.subscription(arn)
        if sub is None or (region is not None and sub.region != region):
            raise errors.NotFoundException("Subscription does not exist")
        return sub

    def get_subscription_attributes(self, ctx: RequestContext, req: Json) -> Json:
        sub = self._subscription(req["SubscriptionArn"], ctx.region)
        attrs = {
            "SubscriptionArn": sub.arn,
            "TopicArn": sub.topic_arn,
            "Owner": sub.account,
            "Protocol": sub.protocol,
            "Endpoint": sub.endpoint,
            "ConfirmationWasAuthenticated": "true" if sub.authenticated else "false",
            "PendingConfirmation": "false" if sub.confirmed else "true",
            "RawMessageDelivery": "false",
            "SubscriptionPrincipal": sub.principal or root_arn(sub.account, ctx.partition),
            **sub.attributes,
        }
        if "FilterPolicy" in sub.attributes:
            attrs.setdefault("FilterPolicyScope", "MessageAttributes")
        if sub.protocol in ("http", "https"):
            attrs["EffectiveDeliveryPolicy"] = json.dumps(self._effective_policy(sub))
        return {"Attributes": attrs}

    def set_subscription_attributes(self, ctx: RequestContext, req: Json) -> Json:
        sub = self._subscription(req["SubscriptionArn"], ctx.region)
        name, value = req["AttributeName"], req.get("AttributeValue") or ""
        if name in ("FilterPolicy",) and not value:
            sub.attributes.pop(name, None)
        else:
            sub.attributes.update(
                _subscription_attributes({name: value}, sub.protocol, sub.attributes)
            )
        self.topics.save_subscription(sub)
        return {}

    def list_subscriptions(self, ctx: RequestContext, req: Json) -> Json:
        return self._subscription_page(ctx, None, req.get("NextToken"))

    def list_subscriptions_by_topic(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        return self._subscription_page(ctx, topic.arn, req.get("NextToken"))

    def _subscription_page(
        self, ctx: RequestContext, topic_arn: str | None, token: str | None
    ) -> Json:
        after = _after(token)
        subs = self.topics.subscription_page(ctx.account_id, ctx.region, topic_arn, after, PAGE + 1)
        out: Json = {
            "Subscriptions": [
                {
                    "SubscriptionArn": s.arn if s.confirmed else "PendingConfirmation",
                    "Owner": s.account,
                    "Protocol": s.protocol,
                    "Endpoint": s.endpoint,
                    "TopicArn": s.topic_arn,
                }
                for s in subs[:PAGE]
            ]
        }
        if len(subs) > PAGE:
            out["NextToken"] = encode_token(subs[PAGE - 1].arn)
        return out

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, ctx: RequestContext, req: Json) -> Json:
        target = req.get("TopicArn") or req.get("TargetArn")
        phone = req.get("PhoneNumber")
        if not target and not phone:
            raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
        if phone:
            return self._publish_sms(ctx, phone, req)
        assert target is not None
        if ":endpoint/" in target:
            return self._publish_to_endpoint(ctx, target, req)
        topic = self._topic(ctx, target, "TopicArn" if req.get("TopicArn") else "TargetArn")
        self._check_kms(topic)
        return self._publish(ctx, topic, req, clock.now())

    _KMS_ERRORS = {
        "NotFoundException": "KMSNotFoundException",
        "DisabledException": "KMSDisabledException",
        "KMSInvalidStateException": "KMSInvalidStateException",
    }

    def _check_kms(self, topic: Topic) -> None:
        """An SSE topic asks KMS for a data key as it takes messages: a key that is missing,
        disabled or pending deletion refuses the publish with KMS's reason."""
        key = topic.attributes.get("KmsMasterKeyId")
        if not key:
            return
        if not key.startswith(("arn:", "alias/")) and "/" in key:
            key = f"alias/{key}"
        try:
            self.env.providers.invoke(
                "kms",
                "GenerateDataKeyWithoutPlaintext",
                {"KeyId": key, "KeySpec": "AES_256"},
                topic.account,
                topic.region,
            )
        except ServiceError as exc:
            code = self._KMS_ERRORS.get(exc.code, "KMSAccessDeniedException")
            raise errors(code, str(exc)) from None

    def publish_batch(self, ctx: RequestContext, req: Json) -> Json:
        topic = self._topic(ctx, req["TopicArn"])
        self._check_kms(topic)
        entries = req.get("PublishBatchRequestEntries") or []
        if not entries:
            raise errors.EmptyBatchRequestException("The batch request doesn't contain any entries")
        if len(entries) > MAX_BATCH:
            raise errors.TooManyEntriesInBatchRequestException(
                "The batch request contains more entries than permissible"
            )
        ids = [e["Id"] for e in entries]
        if len(set(ids)) != len(ids):
            raise errors.BatchEntryIdsNotDistinctException(
                "Two or more batch entries in the request have the same Id"
            )
        if any(not BATCH_ENTRY_ID.match(i) for i in ids):
            raise errors.InvalidBatchEntryIdException(
                "The Id of a batch entry in a batch request doesn't abide by the specification"
            )
        total = sum(_message_size(e) for e in entries)
        if total > MAX_MESSAGE:
            raise errors.BatchRequestTooLongException(
                "The length of all the messages put together is more than the limit"
            )
        now = clock.now()
        done, failed = [], []
        for entry in entries:
            try:
                result = self._publish(ctx, topic, entry, now)
            except ServiceError as err:
                failed.append(
                    {
                        "Id": entry["Id"],
                        "Code": err.wire_code,
                        "Message": err.message,
                        "SenderFault": err.sender_fault,
                    }
                )
                continue
            done.append({"Id": entry["Id"], **result})
        return {"Successful": done, "Failed": failed}

    def _publish(self, ctx: RequestContext, topic: Topic, req: Json, now: float) -> Json:
        message = req.get("Message")
        if not message:
            raise invalid("Empty message")
        attributes = req.get("MessageAttributes") or {}
        _check_attributes(attributes)
        if _message_size(req) > MAX_MESSAGE:
            raise invalid("Message too long")
        subject = req.get("Subject")
        if subject is not None and (not subject or len(subject) > 100 or not subject.isprintable()):
            raise invalid("Subject")
        structure = _structure(message) if req.get("MessageStructure") == "json" else None
        group, dedup = self._fifo_ids(topic, req, message)
        result: Json = {}
        sequence = None
        if topic.fifo:
            assert dedup is not None
            seen = self.topics.seen(topic.arn, dedup, now)
            if seen is not None:
                return {"MessageId": seen[0], "SequenceNumber": seen[1]}
            sequence = self.topics.next_sequence(topic.arn)
            result["SequenceNumber"] = sequence
        message_id = str(uuid.uuid4())
        if topic.fifo:
            assert dedup is not None and sequence is not None
            self.topics.remember(topic.arn, dedup, message_id, sequence, now + DEDUP_WINDOW)
        note = Notification(
            message_id=message_id,
            topic_arn=topic.arn,
            message=message,
            subject=subject,
            attributes=attributes,
            structure=structure,
            at=now,
            base_url=ctx.base_url,
            signature_version=topic.attributes.get("SignatureVersion", "1"),
            group_id=group,
            dedup_id=dedup,
            sequence=sequence,
        )
        for sub in self.topics.subscribers(topic.arn):
            if _passes(sub, note):
                self._deliver(sub, note)
        sns_metrics.count(self.env, topic.arn, "NumberOfMessagesPublished")
        sns_metrics.count(self.env, topic.arn, "PublishSize", float(_message_size(req)), "Bytes")
        return {"MessageId": message_id, **result}

    @staticmethod
    def _fifo_ids(topic: Topic, req: Json, message: str) -> tuple[str | None, str | None]:
        group, dedup = req.get("MessageGroupId"), req.get("MessageDeduplicationId")
        if not topic.fifo:
            if dedup is not None:
                raise invalid(
                    "MessageDeduplicationId Reason: The request includes "
                    "MessageDeduplicationId parameter that is not valid for this topic type"
                )
            return group, None
        if not group:
            raise invalid("The MessageGroupId parameter is required for FIFO topics")
        if dedup is None:
            if topic.attributes.get("ContentBasedDeduplication") != "true":
                raise invalid(
                    "The topic should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup = hashlib.sha256(message.encode()).hexdigest()
        return group, dedup

    # -- delivery --------------------------------------------------------------------------------

    def _deliver(self, sub: Subscription, note: Notification) -> None:
        if sub.protocol == "sqs":
            self._to_sqs(sub, note)
        elif sub.protocol in ("http", "https"):
            body = (
                note.text_for(sub.protocol)
                if sub.raw
                else note.envelope(self.signer, sub.protocol, sub.arn)
            )
            self._post(sub, body, "Notification", note.message_id)
        elif sub.protocol == "lambda":
            self._to_lambda(sub, note)
        elif sub.protocol == "firehose":
            self._to_firehose(sub, note)
        else:
            kind = {"email-json": "email", "sms": "sms", "application": "application"}.get(
                sub.protocol, sub.protocol
            )
            self.sent.record(kind, sub.account, sub.region, sub.endpoint, self._record(sub, note))

    def _record(self, sub: Subscription, note: Notification) -> Json:
        return {
            "MessageId": note.message_id,
            "TopicArn": note.topic_arn,
            "SubscriptionArn": sub.arn,
            "Endpoint": sub.endpoint,
            "Message": note.text_for(sub.protocol),
            "Subject": note.subject,
            "MessageAttributes": _plain_attributes(note.attributes),
            "Timestamp": note.at,
        }

    def _to_sqs(self, sub: Subscription, note: Notification) -> None:
        params: Json = {"QueueUrl": sub.endpoint}
        if sub.raw:
            params["MessageBody"] = note.text_for("sqs")
            if note.attributes:
                params["MessageAttributes"] = _sqs_attributes(note.attributes)
        else:
            params["MessageBody"] = note.envelope(self.signer, "sqs", sub.arn)
        if note.group_id is not None and sub.endpoint.endswith(".fifo"):
            params["MessageGroupId"] = note.group_id
            params["MessageDeduplicationId"] = note.dedup_id
        queue = parse_arn(sub.endpoint)
        try:
            self.env.providers.invoke("sqs", "SendMessage", params, queue.account, queue.region)
        except ServiceError:
            sns_metrics.count(self.env, sub.topic_arn, "NumberOfNotificationsFailed")
            self._dead_letter(sub, note)
        else:
            sns_metrics.count(self.env, sub.topic_arn, "NumberOfNotificationsDelivered")

    def _to_firehose(self, sub: Subscription, note: Notification) -> None:
        body = (
            note.text_for("firehose")
            if sub.raw
            else note.envelope(self.signer, "firehose", sub.arn)
        )
        stream = parse_arn(sub.endpoint)
        params: Json = {
            "DeliveryStreamName": stream.resource.split("/", 1)[-1],
            "Record": {"Data": body.encode()},
        }
        try:
            self.env.providers.invoke(
                "firehose", "PutRecord", params, stream.account, stream.region
            )
        except ServiceError:
            sns_metrics.count(self.env, sub.topic_arn, "NumberOfNotificationsFailed")
            self._dead_letter(sub, note)
        else:
            sns_metrics.count(self.env, sub.topic_arn, "NumberOfNotificationsDelivered")

    def _to_lambda(self, sub: Subscription, note: Notification) -> None:
        envelope = json.loads(note.envelope(self.signer, "lambda", sub.arn))
        envelope["Type"] = "Notification"
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": sub.arn,
                    "Sns": envelope,
                }
            ]
        }
        # Lambda's Invoke is asynchronous: it runs once Publish has answered (and committed).
        task = asyncio.get_running_loop().create_task(self._invoke_lambda(sub, event))
        self._lambda_calls.add(task)
        task.add_done_callback(self._lambda_calls.discard)

    async def _invoke_lambda(self, sub: Subscription, event: Json) -> None:
        function = parse_arn(sub.endpoint)
        ctx = RequestContext(
            account_id=function.account,
            region=function.region,
            request_id=str(uuid.uuid4()),
            service="lambda",
            operation="Invoke",
            principal=accounts.root_principal(function.account, function.account),
            request=HttpRequest("POST", "/", headers={"host": "localhost"}),
            protocol="internal",
        )
        params = {
            "FunctionName": sub.endpoint,
            "InvocationType": "Event",
            "Payload": json.dumps(event).encode(),
        }
        try:
            await self.env.providers.dispatch(ctx, "Invoke", params)
            sns_metrics.count(self.env, sub.topic_arn, "NumberOfNotificationsDelivered")
        except ServiceError:
            sns_metrics.count(self.env, sub.topic_arn, "NumberOfNotificationsFailed")
            # No Lambda provider, or the function is gone: keep the event for inspection.
            with self.store.transaction():
                self.sent.record("lambda", sub.account, sub.region, sub.endpoint, event)

    def _post(self, sub: Subscription, body: str, kind: str, message_id: str) -> None:
        policy = self._effective_policy(sub)
        throttle = (policy["throttlePolicy"] or {}).get("maxReceivesPerSecond")
        headers = {
            "Content-Type": delivery_policy.content_type(policy)
            if kind == "Notification"
            else delivery_policy.DEFAULT_CONTENT_TYPE,
            "x-amz-sns-message-type": kind,
            "x-amz-sns-message-id": message_id,
            "x-amz-sns-topic-arn": sub.topic_arn,
            "User-Agent": "Amazon Simple Notification Service Agent",
        }
        if kind == "Notification":
            headers["x-amz-sns-subscription-arn"] = sub.arn
            if sub.raw:
                headers["x-amz-sns-rawdelivery"] = "true"
        delivery = HttpDelivery(
            url=sub.endpoint,
            body=body,
            headers=headers,
            policy=policy["healthyRetryPolicy"],
            subscription_arn=sub.arn,
            topic_arn=sub.topic_arn,
            notification=kind == "Notification",
            throttle=throttle if kind == "Notification" else None,
        )
        self.pending.add(delivery, clock.now())
        if self.http is not None:
            self.http.poke()

    def _settle(self, delivery: HttpDelivery, status: int | None, started: float) -> None:
        """Records an attempt's answer: delivered, due again per the delivery policy, or failed
        for good (then counted and sent to the subscription's dead-letter queue)."""
        with self.store.transaction():
            if status is not None and 200 <= status < 300:
                self.pending.done(delivery)
                if delivery.notification:
                    sns_metrics.count(
                        self.env, delivery.topic_arn, "NumberOfNotificationsDelivered"
                    )
                return
            delays = retry_delays(delivery.policy)
            if retryable(status) and delivery.attempt < len(delays):
                self.pending.retry(delivery, started + delays[delivery.attempt])
                return
            self.pending.done(delivery)
            log.info("delivery to %s failed after retries", delivery.url)
            if delivery.notification:
                sns_metrics.count(self.env, delivery.topic_arn, "NumberOfNotificationsFailed")
                sub = self.topics.subscription(delivery.subscription_arn)
                if sub is not None:
                    self._send_to_dlq(sub, delivery.body, None)

    def _effective_policy(self, sub: Subscription) -> dict[str, Any]:
        return delivery_policy.effective(
            sub.attributes.get("DeliveryPolicy"), self._topic_delivery_policy(sub)
        )

    def _postpone(self, ids: list[int], due: float) -> None:
        with self.store.transaction():
            self.pending.postpone(ids, due)

    def _topic_delivery_policy(self, sub: Subscription) -> str | None:
        topic = self.topics.get(sub.topic_arn)
        return topic.attributes.get("DeliveryPolicy") if topic else None

    def _dead_letter(self, sub: Subscription, note: Notification) -> None:
        self._send_to_dlq(sub, note.envelope(self.signer, sub.protocol, sub.arn), note)

    def _send_to_dlq(self, sub: Subscription, body: str, note: Notification | None) -> None:
        raw = sub.attributes.get("RedrivePolicy")
        if not raw:
            return
        target = json.loads(raw).get("deadLetterTargetArn", "")
        params: Json = {"QueueUrl": target, "MessageBody": body}
        if note is not None and note.group_id is not None and target.endswith(".fifo"):
            # A FIFO subscription's dead-letter queue is FIFO too: the message keeps its group
            # and deduplication id there.
            params["MessageGroupId"] = note.group_id
            params["MessageDeduplicationId"] = note.dedup_id
        try:
            queue = parse_arn(target)
            self.env.providers.invoke("sqs", "SendMessage", params, queue.account, queue.region)
        except (ServiceError, ValueError):
            return

    # -- SMS and mobile push ---------------------------------------------------------------------

    def _publish_sms(self, ctx: RequestContext, phone: str, req: Json) -> Json:
        if not PHONE.match(phone):
            raise invalid("PhoneNumber Reason: input incorrectly formatted")
        message_id = str(uuid.uuid4())
        self.sent.record(
            "sms",
            ctx.account_id,
            ctx.region,
            phone,
            {
                "PhoneNumber": phone,
                "Message": req.get("Message"),
                "MessageAttributes": _plain_attributes(req.get("MessageAttributes") or {}),
                "MessageId": message_id,
            },
        )
        return {"MessageId": message_id}

    def _publish_to_endpoint(self, ctx: RequestContext, arn: str, req: Json) -> Json:
        row = self.platform.endpoint(arn)
        if row is None:
            # Publish names the parameter; the endpoint operations answer NotFound.
            raise invalid("TargetArn Reason: No endpoint found for the target arn specified")
        attrs = json.loads(row["attributes"])
        if attrs.get("Enabled", "true") != "true":
            raise errors.EndpointDisabledException("Endpoint is disabled")
        if not req.get("Message"):
            raise invalid("Empty message")
        if req.get("MessageStructure") == "json":
            _structure(req["Message"])
        message_id = str(uuid.uuid4())
        self.sent.record(
            "application",
            ctx.account_id,
            ctx.region,
            arn,
            {
                "TargetArn": arn,
                "Message": req.get("Message"),
                "MessageStructure": req.get("MessageStructure"),
                "Subject": req.get("Subject"),
                "MessageAttributes": _plain_attributes(req.get("MessageAttributes") or {}),
                "MessageId": message_id,
            },
        )
        return {"MessageId": message_id}

    def create_platform_application(self, ctx: RequestContext, req: Json) -> Json:
        attributes = req.get("Attributes") or {}
        needed = PLATFORM_CREDENTIALS.get(req["Platform"])
        if needed is None:
            raise invalid(f"Platform Reason: {req['Platform']} is not supported")
        for name in needed:
            if not attributes.get(name):
                raise invalid(f"Attributes Reason: {name} attribute required.")
        arn = f"arn:{ctx.partition}:sns:{ctx.region}:{ctx.account_id}:app/{req['Platform']}/"
        arn += req["Name"]
        self.platform.save_application(
            arn, ctx.account_id, ctx.region, dict(req.get("Attributes") or {})
        )
        return {"PlatformApplicationArn": arn}

    def _application(self, arn: str) -> dict[str, str]:
        attrs = self.platform.application(arn)
        if attrs is None:
            raise errors.NotFoundException("PlatformApplication does not exist")
        return attrs

    def get_platform_application_attributes(self, ctx: RequestContext, req: Json) -> Json:
        return {"Attributes": self._application(req["PlatformApplicationArn"])}

    def set_platform_application_attributes(self, ctx: RequestContext, req: Json) -> Json:
        arn = req["PlatformApplicationArn"]
        attrs = {**self._application(arn), **req["Attributes"]}
        self.platform.save_application(arn, ctx.account_id, ctx.region, attrs)
        return {}

    def delete_platform_application(self, ctx: RequestContext, req: Json) -> Json:
        self.platform.delete_application(req["PlatformApplicationArn"])
        return {}

    def list_platform_applications(self, ctx: RequestContext, req: Json) -> Json:
        rows = self.platform.applications(
            ctx.account_id, ctx.region, _after(req.get("NextToken")), PAGE + 1
        )
        out: Json = {
            "PlatformApplications": [
                {"PlatformApplicationArn": r["arn"], "Attributes": json.loads(r["attributes"])}
                for r in rows[:PAGE]
            ]
        }
        if len(rows) > PAGE:
            out["NextToken"] = encode_token(rows[PAGE - 1]["arn"])
        return out

    def create_platform_endpoint(self, ctx: RequestContext, req: Json) -> Json:
        app_arn = req["PlatformApplicationArn"]
        self._application(app_arn)
        token = req["Token"]
        attrs = {"Enabled": "true", "Token": token, **(req.get("Attributes") or {})}
        if req.get("CustomUserData"):
            attrs["CustomUserData"] = req["CustomUserData"]
        existing = self.platform.endpoint_by_token(app_arn, token)
        if existing is not None:
            if json.loads(existing["attributes"]) != attrs:
                raise invalid(
                    f"Token Reason: Endpoint {existing['arn']} already exists with the same "
                    "Token, but different attributes."
                )
            return {"EndpointArn": existing["arn"]}
        platform_part = app_arn.split(":app/", 1)[1]
        arn = f"arn:{ctx.partition}:sns:{ctx.region}:{ctx.account_id}:endpoint/{platform_part}/"
        arn += str(uuid.uuid4())
        self.platform.save_endpoint(arn, app_arn, token, attrs)
        return {"EndpointArn": arn}

    def _endpoint(self, arn: str) -> Any:
        row = self.platform.endpoint(arn)
        if row is None:
            raise errors.NotFoundException("Endpoint does not exist")
        return row

    def get_endpoint_attributes(self, ctx: RequestContext, req: Json) -> Json:
        return {"Attributes": json.loads(self._endpoint(req["EndpointArn"])["attributes"])}

    def set_endpoint_attributes(self, ctx: RequestContext, req: Json) -> Json:
        row = self._endpoint(req["EndpointArn"])
        attrs = {**json.loads(row["attributes"]), **req["Attributes"]}
        self.platform.save_endpoint(
            row["arn"], row["application_arn"], attrs.get("Token", row["token"]), attrs
        )
        return {}

    def delete_endpoint(self, ctx: RequestContext, req: Json) -> Json:
        self.platform.delete_endpoint(req["EndpointArn"])
        return {}

    def list_endpoints_by_platform_application(self, ctx: RequestContext, req: Json) -> Json:
        app_arn = req["PlatformApplicationArn"]
        self._application(app_arn)
        rows = self.platform.endpoints(app_arn, _after(req.get("NextToken")), PAGE + 1)
        out: Json = {
            "Endpoints": [
                {"EndpointArn": r["arn"], "Attributes": json.loads(r["attributes"])}
                for r in rows[:PAGE]
            ]
        }
        if len(rows) > PAGE:
            out["NextToken"] = encode_token(rows[PAGE - 1]["arn"])
        return out

    def set_sms_attributes(self, ctx: RequestContext, req: Json) -> Json:
        attrs, opted = self.sms.get(ctx.account_id, ctx.region)
        self.sms.put(ctx.account_id, ctx.region, {**attrs, **req["attributes"]}, opted)
        return {}

    def get_sms_attributes(self, ctx: RequestContext, req: Json) -> Json:
        attrs, _ = self.sms.get(ctx.account_id, ctx.region)
        wanted = req.get("attributes")
        return {"attributes": {k: v for k, v in attrs.items() if not wanted or k in wanted}}

    def check_if_phone_number_is_opted_out(self, ctx: RequestContext, req: Json) -> Json:
        _, opted = self.sms.get(ctx.account_id, ctx.region)
        return {"isOptedOut": req["phoneNumber"] in opted}

    def list_phone_numbers_opted_out(self, ctx: RequestContext, req: Json) -> Json:
        _, opted = self.sms.get(ctx.account_id, ctx.region)
        return {"phoneNumbers": opted}

    def opt_in_phone_number(self, ctx: RequestContext, req: Json) -> Json:
        attrs, opted = self.sms.get(ctx.account_id, ctx.region)
        self.sms.put(
            ctx.account_id, ctx.region, attrs, [p for p in opted if p != req["phoneNumber"]]
        )
        return {}

    def get_sms_sandbox_account_status(self, ctx: RequestContext, req: Json) -> Json:
        return {"IsInSandbox": False}


# -- helpers ------------------------------------------------------------------------------------


def _after(token: str | None) -> str:
    if not token:
        return ""
    try:
        return str(decode_token(token))
    except InvalidToken:
        raise invalid("NextToken") from None


def _default_policy(topic: Topic) -> Json:
    return {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "SNS:GetTopicAttributes",
                    "SNS:SetTopicAttributes",
                    "SNS:AddPermission",
                    "SNS:RemovePermission",
                    "SNS:DeleteTopic",
                    "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic",
                    "SNS:Publish",
                ],
                "Resource": topic.arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": topic.account}},
            }
        ],
    }


def _check_arn(arn: str, param: str) -> None:
    """SNS parses an ARN parameter before looking it up, and says what is wrong with it."""
    elements = len(arn.split(":"))
    if elements < 6:
        raise invalid(f"{param} Reason: An ARN must have at least 6 elements, not {elements}")


def _check_endpoint(topic: Topic, protocol: str, endpoint: str) -> None:
    ok = {
        "http": endpoint.startswith("http://"),
        "https": endpoint.startswith("https://"),
        "email": "@" in endpoint,
        "email-json": "@" in endpoint,
        "sms": bool(PHONE.match(endpoint)),
        "sqs": arn_service(endpoint) == "sqs",
        "lambda": arn_service(endpoint) == "lambda",
        "application": ":endpoint/" in endpoint,
        "firehose": arn_service(endpoint) == "firehose",
    }[protocol]
    if not ok:
        if protocol == "sms":
            raise errors.InvalidParameterException(f"Invalid SMS endpoint: {endpoint}")
        label = {
            "sqs": "SQS endpoint ARN",
            "lambda": "Lambda endpoint ARN",
            "http": "Endpoint must match the specified protocol",
            "https": "Endpoint must match the specified protocol",
        }.get(protocol, "Endpoint")
        raise invalid(label)
    if protocol == "sqs" and endpoint.endswith(".fifo") and not topic.fifo:
        raise invalid(
            "Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics"
        )
    if topic.fifo and protocol != "sqs":
        raise invalid("Endpoint Reason: Please use FIFO SQS queue")


def _subscription_attributes(
    given: Mapping[str, str],
    protocol: str,
    current: Mapping[str, str] | None = None,
    reason: str = "",
) -> dict[str, str]:
    """``reason`` leads the policy messages: Subscribe names the ``Attributes`` parameter
    (``Attributes Reason: FilterPolicy: ...``), SetSubscriptionAttributes does not."""
    out: dict[str, str] = {}
    merged = {**(current or {}), **given}
    for name, value in given.items():
        if name not in SUBSCRIPTION_SETTABLE:
            raise invalid("AttributeName")
        if name == "RawMessageDelivery":
            if value.lower() not in ("true", "false"):
                raise invalid("Attributes Reason: RawMessageDelivery: Invalid value")
            if protocol not in RAW_CAPABLE:
                raise invalid(
                    f"Attributes Reason: Delivery protocol [{protocol}] does not support raw "
                    "message delivery"
                )
            value = value.lower()
        elif name == "FilterPolicyScope":
            if value not in (filter_policy.ATTRIBUTES, filter_policy.BODY):
                raise invalid("Attributes Reason: FilterPolicyScope: Invalid value [" + value + "]")
        elif name == "DeliveryPolicy" and value:
            _check_delivery_policy(value, reason, topic=False)
        elif name == "RedrivePolicy" and value:
            try:
                document = safejson.loads(value)
            except ValueError:
                raise invalid(f"{reason}{name}: failed to parse JSON") from None
            _check_redrive(document, reason)
        out[name] = value
    if merged.get("FilterPolicy"):
        scope = merged.get("FilterPolicyScope", filter_policy.ATTRIBUTES)
        try:
            filter_policy.parse(merged["FilterPolicy"], scope)
        except filter_policy.FilterPolicyError as err:
            raise invalid(f"{reason}FilterPolicy: {err}") from None
    return out


def _check_delivery_policy(value: str, reason: str, topic: bool) -> None:
    try:
        delivery_policy.parse(value, topic)
    except delivery_policy.PolicyError as err:
        raise invalid(f"{reason}DeliveryPolicy: {err}") from None


def _check_redrive(document: Any, reason: str) -> None:
    target = document.get("deadLetterTargetArn") if isinstance(document, dict) else None
    if not isinstance(target, str):
        raise invalid(
            f"{reason}RedrivePolicy: Redrive policy does not contain mandatory attribute: "
            "deadLetterTargetArn"
        )
    if len(target.split(":")) < 6 or not target.startswith("arn:"):
        raise invalid(f"{reason}RedrivePolicy: deadLetterTargetArn is an invalid arn")


def _check_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> None:
    for name, attr in attributes.items():
        data_type = attr.get("DataType", "")
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary"):
            raise invalid(
                f"The message attribute '{name}' has an invalid message attribute type, the set "
                "of supported type prefixes is Binary, Number, and String."
            )
        if base == "Binary":
            if not attr.get("BinaryValue"):
                raise _empty_attribute(name, "Binary")
            continue
        value = attr.get("StringValue")
        if not value:
            raise _empty_attribute(name, base)
        if base == "Number":
            try:
                float(value)
            except ValueError:
                raise invalid(
                    f"Could not cast message attribute '{name}' value to number."
                ) from None
        if data_type == "String.Array":
            try:
                items = safejson.loads(value)
            except ValueError:
                items = None
            if not isinstance(items, list):
                raise invalid(
                    f"The message attribute '{name}' with type 'String.Array' must be an array."
                )


def _empty_attribute(name: str, kind: str) -> Exception:
    return invalid(
        f"The message attribute '{name}' must contain non-empty message attribute value for "
        f"message attribute type '{kind}'."
    )


def _message_size(entry: Mapping[str, Any]) -> int:
    size = len((entry.get("Message") or "").encode())
    for name, attr in (entry.get("MessageAttributes") or {}).items():
        value = attr.get("StringValue") or attr.get("BinaryValue") or ""
        size += len(name.encode()) + len(attr.get("DataType", "").encode())
        size += len(value.encode() if isinstance(value, str) else value)
    return size


def _structure(message: str) -> dict[str, str]:
    try:
        doc = safejson.loads(message)
    except ValueError:
        raise invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(doc, dict) or "default" not in doc:
        raise invalid("Message Structure - No default entry in JSON message body")
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}


def _passes(sub: Subscription, note: Notification) -> bool:
    text = sub.attributes.get("FilterPolicy")
    if not text:
        return True
    scope = sub.attributes.get("FilterPolicyScope", filter_policy.ATTRIBUTES)
    policy = _parsed_policy(text, scope)
    if scope == filter_policy.BODY:
        return filter_policy.matches_body(policy, note.text_for(sub.protocol))
    return filter_policy.matches_attributes(policy, note.attributes)


@lru_cache(maxsize=4096)
def _parsed_policy(text: str, scope: str) -> dict[str, Any]:
    """Policies were checked when set; publishing only needs them parsed, once."""
    return filter_policy.parse(text, scope)


def _sqs_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """SQS has no String.Array type: raw deliveries carry such values as strings."""
    out = {}
    for name, attr in attributes.items():
        data_type = "String" if attr["DataType"] == "String.Array" else attr["DataType"]
        if attr.get("BinaryValue") is not None:
            out[name] = {"DataType": data_type, "BinaryValue": attr["BinaryValue"]}
        else:
            out[name] = {"DataType": data_type, "StringValue": attr["StringValue"]}
    return out


def _plain_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from nubes.services.sns.delivery import envelope_attributes

    return envelope_attributes(attributes)
