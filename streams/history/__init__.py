"""History: a time window of topics read, replayed through the router, diffed and reported."""
