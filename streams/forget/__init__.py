"""Forgetting: requests kept in `aduan.forget`, honoured by the worker, replay and reports, and
swept out of the topics that hold texts."""
