"""API v0 endpoints, compatible with PythonAnywhere's api/v0."""
