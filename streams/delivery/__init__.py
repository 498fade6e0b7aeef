"""Delivery of complaints to agencies: `aduan subscribe` reads an agency's own topic."""
