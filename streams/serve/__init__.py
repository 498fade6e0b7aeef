"""`aduan serve`: an HTTP API over the topics, for agencies that do not run Kafka."""
