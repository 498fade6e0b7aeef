"""Event records, their JSON codec and the JSON Schema files consumers validate against."""
