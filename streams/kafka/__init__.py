"""The Kafka boundary: clients and their errors, topics, logins and ACLs, batches, the registry."""
