"""A blocking Kafka client of one connection that sends any kio request at its own version.

For handler tests that need exact versions and field values no client library sends:

    with RawKafka(server.kafka_bootstrap) as kafka:
        response = kafka.send(CreateTopicsRequest(...))   # the kio response of that version

The request header version follows the body's flexibility (v2 for flexible bodies, else
v1); the response header is v1 for flexible responses except ApiVersions (always v0).
"""

from __future__ import annotations

import io
import socket
import struct
from datetime import datetime, timedelta, timezone

from kio.index import load_response_schema
from kio.records.schema import NewRecordBatch, Record
from kio.records.writers import write_new_batch
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer

_API_VERSIONS = 18


class RawKafka:
    def __init__(self, bootstrap: str, *, client_id: str = "rawkafka", timeout: float = 10.0) -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.client_id = client_id
        self._correlation_id = 0

    def send(self, request):
        api_key, version = int(request.__api_key__), int(request.__version__)
        self._correlation_id += 1
        buffer = io.BytesIO()
        if request.__flexible__:
            entity_writer(RequestHeaderV2)(buffer, RequestHeaderV2(
                request_api_key=api_key, request_api_version=version, correlation_id=self._correlation_id,
                client_id=self.client_id))
        else:
            entity_writer(RequestHeaderV1)(buffer, RequestHeaderV1(
                request_api_key=api_key, request_api_version=version, correlation_id=self._correlation_id,
                client_id=self.client_id))
        entity_writer(type(request))(buffer, request)
        payload = buffer.getvalue()
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        frame = self._read_frame()
        response_type = load_response_schema(api_key, version)
        flexible_header = response_type.__flexible__ and api_key != _API_VERSIONS
        header, used = entity_reader(ResponseHeaderV1 if flexible_header else ResponseHeaderV0)(frame, 0)
        assert header.correlation_id == self._correlation_id
        # kio readers return (value, bytes consumed from the offset).
        response, consumed = entity_reader(response_type)(frame, used)
        assert used + consumed == len(frame), f"{len(frame) - used - consumed} bytes left after the response body"
        return response

    def produce(self, topic: str, partition: int, values: list[bytes]) -> int:
        """Appends one batch of `values` with acks=-1 (Produce v8); returns its base offset."""
        from kio.schema.produce.v8 import request as produce

        (response,) = self.send(produce.ProduceRequest(
            acks=-1, timeout=timedelta(seconds=5),
            topic_data=(produce.TopicProduceData(name=topic, partition_data=(
                produce.PartitionProduceData(index=partition, records=record_batch(values)),)),),
        )).responses
        (result,) = response.partition_responses
        assert result.error_code == 0, result
        return result.base_offset

    def _read_frame(self) -> bytes:
        (size,) = struct.unpack(">i", self._read_exactly(4))
        return self._read_exactly(size)

    def _read_exactly(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self.sock.recv(size)
            if not chunk:
                raise ConnectionError("connection closed by the broker")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawKafka":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def record_batch(values: list[bytes]) -> bytes:
    """A magic-2 RecordBatch of `values` (no key, no headers, no compression, no producer id)."""
    now = datetime.now(timezone.utc)
    buffer = io.BytesIO()
    write_new_batch(buffer, NewRecordBatch(
        producer_id=-1, producer_epoch=-1, base_sequence=-1, attributes=0,
        records=tuple(Record(attributes=0, timestamp=now, offset=i, key=None, value=v, headers=())
                      for i, v in enumerate(values))))
    return buffer.getvalue()
