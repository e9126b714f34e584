from odoo import api, models

from ..adapters import with_features
from ..tools.errors import RemoteServiceError


class PsaAdapter(models.AbstractModel):
    """Which adapter class a backend speaks through, looked up in this database's registry.

    Each vendor is an abstract model inheriting this one (``psa.adapter.harvest``, ...)
    whose ``_psa_adapter_class`` is its pure-Python :class:`HttpAdapter` subclass. An
    addon changes a vendor's mapping in the databases where it is installed by ordinary
    inheritance: ``_inherit = "psa.adapter.harvest"`` and return a subclass of
    ``super()._adapter_class()``; it adds a vendor with a new model inheriting
    ``psa.adapter``. A feature addon extends ``_adapter_features`` with the mixin that
    declares the calls its feature makes of an adapter.
    """

    _name = "psa.adapter"
    _description = "PSA Connector Adapter"
    # The vendor's HttpAdapter subclass, set by each vendor model (none here: no vendor).
    _psa_adapter_class = None

    @api.model
    def _adapter_class(self):
        """The vendor's adapter class; an addon may return a subclass of super()'s."""
        return self._psa_adapter_class

    @api.model
    def _adapter_features(self):
        """Mixins declaring the calls the installed feature addons make of an adapter,
        with their default behaviour (not supported)."""
        return []

    @api.model
    def _adapter_classes(self):
        """{backend adapter key: adapter class with the installed features}."""
        classes = {}
        for name in self.env.registry.descendants(["psa.adapter"], "_inherit"):
            vendor = self.env[name]
            adapter_class = vendor._adapter_class()
            if adapter_class is not None:
                classes[adapter_class.name] = with_features(
                    adapter_class, vendor._adapter_features()
                )
        return classes

    @api.model
    def _adapter_selection(self):
        return [(key, cls.label or key) for key, cls in sorted(self._adapter_classes().items())]

    @api.model
    def _adapter_class_for(self, key):
        try:
            return self._adapter_classes()[key]
        except KeyError:
            raise RemoteServiceError(
                f"No adapter named {key!r} is installed.", retryable=False
            ) from None
