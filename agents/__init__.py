"""aduan's routing core, and the Faust agent that runs it on Kafka.

The core, `agents.core`, decides where a post goes from the post, the registry and the
verification policy alone: `parse`, `post`, `verify`, `tag`, `route`, `split`, `registry` and
`errors`. With `route_metrics`, which counts the router's outcomes in Prometheus metrics, they
import no Kafka client, no Faust, nothing of `streams` and not `route_mentions`: pyproject.toml's
import contract says so and `lint-imports` checks it. `route_mentions` is not part of the core: it
is the Faust agent (the shell) that reads `mentions.raw`, calls the core and hands the events to
Kafka.
"""
