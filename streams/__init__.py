"""The shell around the core: the Kafka boundary, the worker, the X sources, the producer, history,
delivery to agencies, the command line, and the settings they all take."""
