"""HTTP handlers: thin pages and API endpoints over the domain classes."""
