"""Console pages and the field and citizen pages."""
