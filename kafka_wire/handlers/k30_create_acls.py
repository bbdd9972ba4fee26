"""CreateAcls (key 30), versions 1–3: SECURITY_DISABLED for every creation (no authorizer).

Kafka without an authorizer answers each requested ACL with SECURITY_DISABLED "No
Authorizer is configured." (AclApis.handleCreateAcls, CreateAclsRequest.getErrorResponse);
see k29_describe_acls.py. v0 is not served, as Kafka 4.0 (KIP-896).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.handlers.k29_describe_acls import NO_AUTHORIZER
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.CREATE_ACLS, 1, 3)
def create_acls(ctx, request):
    schema = response_classes(ctx)
    return schema.CreateAclsResponse(
        throttle_time=NO_THROTTLE,
        results=tuple(schema.AclCreationResult(error_code=ErrorCode.security_disabled, error_message=NO_AUTHORIZER)
                      for _ in request.creations))
