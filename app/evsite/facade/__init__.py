"""The web layer's door into the running controller (SiteFacadeImpl in evsite.facade.impl).

This package's root imports nothing of the controller, so the controller may take
FACADE_MIGRATIONS from here without an import cycle.
"""

from evsite.facade.schema import FACADE_MIGRATIONS

__all__ = ["FACADE_MIGRATIONS"]
