"""The cross-protocol bridge (issue 7, docs/cross-protocol.md): Kafka topics ↔ AMQP.

- engine/bridge/names.py: the `amq.kafka` exchange and the bind-time cycle refusal;
- engine/bridge/murmur2.py: Kafka's default partitioner for keyed AMQP → Kafka messages;
- engine/bridge/forwarder.py: every committed record of every topic → `amq.kafka`.
"""
