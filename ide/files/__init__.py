"""Users' files: safe path resolution, reading and atomic saving, uploads,
quotas, share links and the lint pool.

Kept import-light on purpose: the lint pool's worker processes import
``ide.files.lint`` and should not pay for the web stack.
"""
