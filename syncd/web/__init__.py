"""The customer's "Manage your booking" pages: HTML forms over syncd.manage, no JavaScript.

syncd.api.create_app routes /manage to `manage_mount(runtime)`.
"""

from syncd.web.app import manage_mount

__all__ = ["manage_mount"]
