"""`aduan produce`: mentions from a file, synthetic ones or the X API into `mentions.raw`."""
