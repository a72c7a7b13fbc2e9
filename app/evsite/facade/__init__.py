"""The real SiteFacade: the web layer's thread-safe door into the running controller."""

from evsite.facade.impl import SiteFacadeImpl
from evsite.facade.records import FACADE_MIGRATIONS

__all__ = ["FACADE_MIGRATIONS", "SiteFacadeImpl"]
