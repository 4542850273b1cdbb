"""Web apps: users' WSGI sites, kept running by the supervisor and served by the front."""
