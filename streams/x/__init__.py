"""The X API v2 through tweepy (filtered stream, mentions timelines), and synthetic X data."""
