"""Settings of the GPU check's worker half: the site's own, less the `daphne` app.

daphne is the ASGI server; in INSTALLED_APPS it only replaces `runserver`, and its
Twisted/cryptography stack is two thirds of the packages the worker half would carry to
the GPU machine. A worker never starts it, so the check leaves it out to fit the carry.
"""

from webapp.settings import *  # noqa: F403
from webapp.settings import INSTALLED_APPS as SITE_APPS

INSTALLED_APPS = [app for app in SITE_APPS if app != "daphne"]
