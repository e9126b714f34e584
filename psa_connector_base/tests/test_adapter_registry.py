"""Adapters are looked up through the registry of psa.adapter models, per database."""

import inspect
from unittest.mock import patch

from ..adapters.canonical import CanonicalRestAdapter
from ..adapters.harvest import HarvestAdapter
from ..tools.errors import RemoteServiceError
from .common import API_TOKEN, PsaTransactionCase

VENDORS = {
    "bamboohr": "psa.adapter.bamboohr",
    "canonical_v1": "psa.adapter.canonical",
    "float_v3": "psa.adapter.float",
    "harvest_v2": "psa.adapter.harvest",
    "hubspot_v3": "psa.adapter.hubspot",
    "productive_v2": "psa.adapter.productive",
}


class TestAdapterRegistry(PsaTransactionCase):
    def test_the_backend_selection_is_built_from_the_vendor_models(self):
        keys = [key for key, _label in self.env["psa.backend"]._selection_adapter()]
        self.assertEqual(sorted(keys), sorted(VENDORS))
        for key, model in VENDORS.items():
            self.assertEqual(self.env[model]._adapter_class().name, key)
        with self.assertRaises(RemoteServiceError) as caught:
            self.env["psa.adapter"]._adapter_class_for("no_such_vendor")
        self.assertFalse(caught.exception.retryable)

    def test_each_feature_is_declared_by_its_addon_and_a_vendor_implementation_wins(self):
        features = self.env["psa.adapter"]._adapter_features()
        classes = self.env["psa.adapter"]._adapter_classes()
        for key, composed in classes.items():
            vendor = self.env[VENDORS[key]]._adapter_class()
            self.assertTrue(issubclass(composed, vendor))
            for feature in features:
                self.assertTrue(issubclass(composed, feature))
                for name, default in vars(feature).items():
                    if not inspect.isfunction(default):
                        continue
                    own = next(
                        (k.__dict__[name] for k in vendor.__mro__ if name in k.__dict__), None
                    )
                    self.assertIs(getattr(composed, name), own or default, f"{key}.{name}")
        # The canonical API implements every call a feature addon declares.
        for feature in features:
            for name, member in vars(feature).items():
                if inspect.isfunction(member):
                    self.assertIn(name, vars(CanonicalRestAdapter), name)

    def test_an_addon_overrides_a_vendor_mapping_by_inheriting_its_model(self):
        class NotesAsTask(HarvestAdapter):
            def _map_time_entry(self, raw):
                return {**super()._map_time_entry(raw), "description": "overridden"}

        self.backend.write(
            {
                "adapter": "harvest_v2",
                "base_url": "https://api.harvestapp.com/v2",
                "api_token": API_TOKEN,
            }
        )
        harvest_model = type(self.env["psa.adapter.harvest"])
        # What ``_inherit = "psa.adapter.harvest"`` in another addon does in its database.
        with patch.object(harvest_model, "_adapter_class", lambda self: NotesAsTask):
            adapter = self.backend._get_adapter()
            self.assertIsInstance(adapter, NotesAsTask)
            raw = {"id": 1, "project": {"id": 2}, "spent_date": "2026-11-02", "notes": "x"}
            self.assertEqual(adapter._map_time_entry(raw)["description"], "overridden")
        self.assertNotIsInstance(self.backend._get_adapter(), NotesAsTask)
