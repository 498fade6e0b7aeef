"""The Kafka-free core of aduan: parsing, verification, tagging and routing of mentions."""
