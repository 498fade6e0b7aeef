"""The worker: the Faust app, its start with the routing agent, and its web endpoints."""
