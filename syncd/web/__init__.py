"""The customer's "Manage your booking" pages: HTML forms over syncd.manage, no JavaScript.

syncd.api.create_app mounts `manage_app(runtime)` at /manage.
"""

from syncd.web.app import manage_app

__all__ = ["manage_app"]
