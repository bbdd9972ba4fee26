"""ApiVersions (key 18), versions 0–4.

The table is built from the handler registry, so what is advertised is exactly what is
served. An ApiVersions request of a version above 4 is answered, per KIP-511, with a v0
body (and response header v0) holding UNSUPPORTED_VERSION and the full table, so the client
can retry at a version both sides know; kafka-python and librdkafka read the table from it.

Flexible versions (3+) carry tagged fields (SupportedFeatures, FinalizedFeatures…) that
are left at their defaults; kio omits defaulted tagged fields, as Kafka does — librdkafka
2.0.2 (Debian's kcat) misreads them otherwise (reference/kafka-clients.md, "Measured here").
"""

from __future__ import annotations

from kio.schema.api_versions.v0.response import ApiVersion as ApiVersionV0
from kio.schema.api_versions.v0.response import ApiVersionsResponse as ApiVersionsResponseV0
from kio.schema.errors import ErrorCode

from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import REGISTRY, ApiKey, handles


def _table(entry_type: type) -> tuple:
    return tuple(
        entry_type(api_key=e.api_key, min_version=e.min_version, max_version=e.max_version)
        for e in sorted(REGISTRY.values(), key=lambda e: e.api_key)
    )


def unsupported_version_response() -> ApiVersionsResponseV0:
    return ApiVersionsResponseV0(error_code=ErrorCode.unsupported_version, api_keys=_table(ApiVersionV0))


@handles(ApiKey.API_VERSIONS, 0, 4)
def api_versions(ctx, request):
    response_type = REGISTRY[ApiKey.API_VERSIONS].response_types[ctx.api_version]
    module = __import__(response_type.__module__, fromlist=["ApiVersion"])
    fields = {"error_code": ErrorCode.none, "api_keys": _table(module.ApiVersion)}
    if ctx.api_version >= 1:
        fields["throttle_time"] = NO_THROTTLE
    return response_type(**fields)
