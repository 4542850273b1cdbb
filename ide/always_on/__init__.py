"""Always-on tasks: a user's command kept running by the supervisor."""
