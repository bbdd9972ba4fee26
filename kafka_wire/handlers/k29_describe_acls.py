"""DescribeAcls (key 29), versions 1–3: SECURITY_DISABLED, as a Kafka broker with no authorizer.

mqgateway has no authorizer (every client may do everything; the authorized-operations
bit fields of Metadata and DescribeCluster say so). Kafka with `authorizer.class.name`
unset answers every ACL request with SECURITY_DISABLED "No Authorizer is configured."
(AclApis.handleDescribeAcls) rather than leaving the API out of ApiVersions, so admin
clients report a clear "security is disabled" instead of "unsupported API".
v0 is not served, as Kafka 4.0 (KIP-896).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles

NO_AUTHORIZER = "No Authorizer is configured."


@handles(ApiKey.DESCRIBE_ACLS, 1, 3)
def describe_acls(ctx, request):
    return response_classes(ctx).DescribeAclsResponse(
        throttle_time=NO_THROTTLE, error_code=ErrorCode.security_disabled, error_message=NO_AUTHORIZER, resources=())
