"""DeleteAcls (key 31), versions 1–3: SECURITY_DISABLED for every filter (no authorizer).

Kafka without an authorizer answers each filter with SECURITY_DISABLED "No Authorizer is
configured." and no matching ACLs (AclApis.handleDeleteAcls, DeleteAclsRequest.getErrorResponse);
see k29_describe_acls.py. v0 is not served, as Kafka 4.0 (KIP-896).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.handlers.k29_describe_acls import NO_AUTHORIZER
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.DELETE_ACLS, 1, 3)
def delete_acls(ctx, request):
    schema = response_classes(ctx)
    return schema.DeleteAclsResponse(
        throttle_time=NO_THROTTLE,
        filter_results=tuple(
            schema.DeleteAclsFilterResult(error_code=ErrorCode.security_disabled, error_message=NO_AUTHORIZER,
                                          matching_acls=())
            for _ in request.filters))
