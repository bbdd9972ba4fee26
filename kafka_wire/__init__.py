"""Kafka listener: requests decoded with kio, answered from the engine."""
