"""The Prometheus metrics of the producer, and the registry both processes start from (the worker's
domain metrics are the agent's, `agents/route_metrics.py`)."""
