"""The pure routing core: where a post goes, from the post, the registry and the verification
policy alone. No Kafka client, no Faust, nothing of `streams` (the import contract in
pyproject.toml)."""
